/* placeholder: being written */
#include "tools/artifactctl.h"
int cmd_ls(int argc, char **argv)
{
	ctl_errx(EXIT_FAIL, "'ls' is not implemented yet");
}
