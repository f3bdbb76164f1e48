#!/bin/sh
. "$TESTS_SRCDIR/lib.sh"
skip_all "placeholder"
