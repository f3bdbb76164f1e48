/* placeholder: being written */
#include "tools/artifactctl.h"
int cmd_hash(int argc, char **argv)
{
	ctl_errx(EXIT_FAIL, "'hash' is not implemented yet");
}
