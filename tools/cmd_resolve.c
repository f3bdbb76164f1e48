/* placeholder: being written */
#include "tools/artifactctl.h"
int cmd_resolve(int argc, char **argv)
{
	ctl_errx(EXIT_FAIL, "'resolve' is not implemented yet");
}
