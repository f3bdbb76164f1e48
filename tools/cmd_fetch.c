/* placeholder: being written */
#include "tools/artifactctl.h"
int cmd_fetch(int argc, char **argv)
{
	ctl_errx(EXIT_FAIL, "'fetch' is not implemented yet");
}
