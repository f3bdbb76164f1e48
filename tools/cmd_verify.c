/* placeholder: being written */
#include "tools/artifactctl.h"
int cmd_verify(int argc, char **argv)
{
	ctl_errx(EXIT_FAIL, "'verify' is not implemented yet");
}
