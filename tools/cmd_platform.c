/* placeholder: being written */
#include "tools/artifactctl.h"
int cmd_platform(int argc, char **argv)
{
	ctl_errx(EXIT_FAIL, "'platform' is not implemented yet");
}
