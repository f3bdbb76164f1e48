#!/bin/sh
# contrib/, the admin's files: the systemd units (systemd-analyze verify,
# and their commands run as systemd runs them, with the unit's capability
# bounding set: readiness, reload, stop, clean-up after a crash), the example
# artifactfs.toml (the daemon accepts every setting it knows, and the file
# names each), the options of the fstab and autofs lines (mount(8) accepts
# them), the Squid configuration (squid -k parse), and the bash completion (exactly the commands and options that
# artifactctl's --help lists; files, directories and names as arguments).
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/fuse.sh"

need_prog "${PYTHON3:-python3}"
need_prog bash
PY=${PYTHON3:-python3}
contrib=$TESTS_SRCDIR/../contrib
units="artifactfs.service artifactfs@.service"

# unit_cmd UNIT KEY: the command line of KEY= (ExecStart, ...) of UNIT, as
# systemd would run it, quoted for eval: prefixes (-, @, +, !) dropped,
# specifiers (%i = "test", %%) and ${VAR} expanded (VAR from the
# environment when set there, else from the unit's Environment=), $$ -> $;
# /usr/local/bin/artifactfs -> $ARTIFACTFS.
cat >"$TEST_TMP/unit.py" <<'EOF'
import os, re, shlex, sys

unit, key = sys.argv[1], sys.argv[2]
lines = open(unit).read().splitlines()
spec = lambda s: re.sub(r"%(.)", lambda m: {"%": "%", "i": "test", "I": "test"}[m.group(1)], s)
env = {}
for l in lines:
    if l.startswith("Environment="):
        for w in shlex.split(spec(l[len("Environment="):])):
            k, v = w.split("=", 1)
            env[k] = os.environ.get(k) or v
if key == "env":
    print(" ".join("%s=%s" % (k, shlex.quote(v)) for k, v in env.items()))
    sys.exit(0)
for l in lines:
    if l.startswith(key + "="):
        words = shlex.split(spec(l[len(key) + 1:]))
        words[0] = words[0].lstrip("-@+!")
        out = []
        for w in words:
            w = re.sub(r"\$\$|\$\{(\w+)\}|\$(\w+)",
                       lambda m: "$" if m.group(0) == "$$" else
                       env.get(m.group(1) or m.group(2), os.environ.get(m.group(1) or m.group(2), "")), w)
            out.append(w.replace("/usr/local/bin/artifactfs", os.environ["ARTIFACTFS"]))
        print(" ".join(shlex.quote(w) for w in out))
        sys.exit(0)
sys.exit("no %s= in %s" % (key, unit))
EOF
unit_cmd() {
	"$PY" "$TEST_TMP/unit.py" "$contrib/systemd/$1" "$2"
}
unit_value() {
	sed -n "s/^$2=//p" "$contrib/systemd/$1"
}

# --- systemd-analyze verify ---------------------------------------------------------
verify_units() {
	_d=$TEST_TMP/units
	mkdir -p "$_d"
	# ExecStart must exist: the built binary instead of the installed one;
	# the template as one instance of it.
	sed "s|/usr/local/bin/artifactfs|$ARTIFACTFS|" "$contrib/systemd/artifactfs.service" \
		>"$_d/artifactfs.service"
	sed "s|/usr/local/bin/artifactfs|$ARTIFACTFS|" "$contrib/systemd/artifactfs@.service" \
		>"$_d/artifactfs@test.service"
	_out=$(systemd-analyze verify --man=no "$_d/artifactfs.service" "$_d/artifactfs@test.service" 2>&1)
	_rc=$?
	printf '%s\n' "$_out"
	# Unknown keys and bad values are only warnings (status 0) naming the file.
	[ "$_rc" -eq 0 ] && ! printf '%s\n' "$_out" | grep -q "$_d/"
}
verify_catches() {
	_d=$TEST_TMP/bad
	mkdir -p "$_d"
	sed "s|/usr/local/bin/artifactfs|$ARTIFACTFS|; s/^DevicePolicy=closed/DevicePolicy=shut/" \
		"$contrib/systemd/artifactfs.service" >"$_d/artifactfs.service"
	! systemd-analyze verify --man=no "$_d/artifactfs.service" 2>&1 | grep -q "$_d/"
}
if command -v systemd-analyze >/dev/null 2>&1; then
	ok "systemd-analyze verify passes on both units" verify_units
	fails "... and would catch a bad value" verify_catches
else
	skip "systemd-analyze verify on the units" "systemd-analyze not installed (Debian: systemd)"
fi
# The template is the service with its instance's config and mount point.
same_units() {
	for _u in $units; do
		grep -v -e '^#' -e '^$' -e '^Description=' -e '^Environment=' "$contrib/systemd/$_u" \
			>"$TEST_TMP/$_u.body"
	done
	diff "$TEST_TMP/artifactfs.service.body" "$TEST_TMP/artifactfs@.service.body"
}
ok "artifactfs@.service has the settings of artifactfs.service" same_units
is "the template reads /etc/artifactfs/NAME.toml, mounts /artifacts-NAME" \
	"$(unit_cmd artifactfs@.service env)" "CONFIG=/etc/artifactfs/test.toml MOUNTPOINT=/artifacts-test"
is "the service runs artifactfs -f for the config file" \
	"$(ARTIFACTFS=/usr/local/bin/artifactfs unit_cmd artifactfs.service ExecStart)" \
	"/usr/local/bin/artifactfs -f -o config=/etc/artifactfs.toml,allow_other /artifacts"
# Mount namespacing hides the mount from the host (artifactfs.service).
no_namespace() {
	! grep -E '^(ProtectSystem|ProtectHome|PrivateTmp|PrivateDevices|PrivateMounts|ProtectKernel[A-Za-z]*|ProtectControlGroups|ProtectProc|ProcSubset|ReadOnlyPaths|ReadWritePaths|InaccessiblePaths|BindPaths|BindReadOnlyPaths|TemporaryFileSystem|PrivateUsers|MountFlags)=' \
		"$contrib/systemd/artifactfs.service"
}
ok "no setting gives the service its own mount namespace" no_namespace

# --- the example config ----------------------------------------------------------------
# The settings the daemon knows: its --help (config is no key of the file).
"$ARTIFACTFS" --help | sed -n 's/^    \([a-z_][a-z_]*\).*/\1/p' | grep -vx config >"$TEST_TMP/keys"
example=$contrib/artifactfs.toml
names_every_key() {
	[ -s "$TEST_TMP/keys" ] || { echo "no keys in artifactfs --help"; return 1; }
	while read -r _k; do
		grep -q "^#$_k = " "$example" || { echo "contrib/artifactfs.toml lacks $_k"; return 1; }
	done <"$TEST_TMP/keys"
}
ok "contrib/artifactfs.toml names every setting of artifactfs --help" names_every_key
ok "... all commented out: as shipped it sets nothing" sh -c "! grep -q '^[a-z]' '$example'"

# --- the Squid configuration --------------------------------------------------------------
# t0460-site-squid.sh runs it; here only its syntax, where squid exists.
SQUID=$(command -v squid 2>/dev/null || { [ -x /usr/sbin/squid ] && echo /usr/sbin/squid; })
if [ -n "$SQUID" ]; then
	ok "contrib/squid/squid.conf parses (squid -k parse)" \
		sh -c '"$1" -k parse -f "$2" 2>&1 | { ! grep -E "FATAL|ERROR"; }' sh "$SQUID" \
		"$contrib/squid/squid.conf"
else
	skip "contrib/squid/squid.conf parses" "squid not installed"
fi

# --- bash completion ---------------------------------------------------------------------------
comp=$contrib/completion/artifactctl.bash
ok "the completion script parses (bash -n)" bash -n "$comp"
# comp WORD...: the candidates for the last WORD, one per line, sorted.
cat >"$TEST_TMP/comp.bash" <<'EOF'
. "$COMP_SCRIPT" || exit 1
COMP_WORDS=("$@")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
_artifactctl || exit 1
printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort
EOF
comp() {
	PATH="$(dirname "$ARTIFACTCTL"):$PATH" COMP_SCRIPT=$comp bash "$TEST_TMP/comp.bash" artifactctl "$@"
}
help_cmds=$("$ARTIFACTCTL" --help | awk '/^Commands:/ { c = 1; next } c && /^  [a-z]/ { print $1 }' | sort)
ok "artifactctl --help lists commands" test -n "$help_cmds"
is "the completion offers exactly the commands of artifactctl --help" "$(comp '')" "$help_cmds"
is "... a prefix narrows them" "$(comp 'p')" "$(printf 'pack\nplatform\nprefetch\nprobe\npublish')"
is "root: its subcommands" "$(comp root '')" "$(printf 'add\nls\nrm')"
# long_opts: the --options in a --help text; short_opts: the -x ones.
long_opts() { grep -oE -- '--[a-z][a-z0-9-]*' | sort -u; }
short_opts() { grep -oE -- '(^|[[ ])-[A-Za-z]([], ]|$)' | grep -oE -- '-[A-Za-z]' | sort -u; }
same_opts() {
	_v=$1
	if [ "$_v" = root ]; then
		_c=$( (comp root add -; comp root rm -; comp root ls -) | sort -u)
	else
		_c=$(comp "$_v" -)
	fi
	_h=$("$ARTIFACTCTL" "$_v" --help 2>&1)
	# --help: accepted by every command, not listed by every usage.
	_hl=$(printf '%s\n' "$_h" | long_opts | grep -vx -- --help)
	_cl=$(printf '%s\n' "$_c" | grep -- '^--' | grep -vx -- --help | sort -u)
	[ "$_hl" = "$_cl" ] || {
		echo "--help: $_hl" | tr '\n' ' '
		echo
		echo "completion: $_cl" | tr '\n' ' '
		return 1
	}
	for _s in $(printf '%s\n' "$_h" | short_opts); do
		printf '%s\n' "$_c" | grep -qx -- "$_s" || { echo "completion lacks $_s"; return 1; }
	done
}
for v in $help_cmds; do
	ok "$v: the options of '$v --help', and no other" same_opts "$v"
done
mkdir -p "$TEST_TMP/cdir/sub" "$TEST_TMP/cdir/sib"
touch "$TEST_TMP/cdir/file"
is "--store DIR: directories" "$(comp ls --store "$TEST_TMP/cdir/s")" \
	"$(printf '%s\n%s' "$TEST_TMP/cdir/sib" "$TEST_TMP/cdir/sub")"
is "--store=DIR, split at '='" "$(comp gc --store = "$TEST_TMP/cdir/su")" "$TEST_TMP/cdir/sub"
is "--store=DIR in one word" "$(comp verify "--store=$TEST_TMP/cdir/su")" "--store=$TEST_TMP/cdir/sub"
is "--platform: the host triplet" "$(comp resolve --platform '')" "$("$ARTIFACTCTL" platform)"
is "FILE: files" "$(comp hash "$TEST_TMP/cdir/f")" "$TEST_TMP/cdir/file"
cat >"$TEST_TMP/names.toml" <<'EOF'
[Foo]
git-tree-sha1 = "0000000000000000000000000000000000000000"

[[Bar]]
arch = "x86_64"
git-tree-sha1 = "1111111111111111111111111111111111111111"

    [[Bar.download]]
    url = "https://example.org/bar.tar.gz"
    sha256 = "2222222222222222222222222222222222222222222222222222222222222222"
EOF
is "resolve FILE NAME: the names of FILE" \
	"$(comp resolve -p x86_64-linux-gnu "$TEST_TMP/names.toml" '')" "$(printf 'Bar\nFoo')"
is "fetch FILE NAME...: the names of FILE, after options with values" \
	"$(comp fetch --store "$TEST_TMP/s" -j 2 "$TEST_TMP/names.toml" Foo 'B')" "Bar"
is "bind FILE NAME HASH: nothing offered for HASH" \
	"$(comp bind -l "$TEST_TMP/names.toml" Foo '')" ""

# --- what needs a mount -------------------------------------------------------------------
mount_missing() {
	[ -c /dev/fuse ] || { echo "/dev/fuse missing"; return; }
	command -v fusermount3 >/dev/null 2>&1 || { echo "fusermount3 not installed"; return; }
	[ -x "${ARTIFACTFS:-}" ] || { echo "artifactfs binary not built"; return; }
	command -v setpriv >/dev/null 2>&1 || { echo "setpriv not installed"; return; }
	[ "$(id -u)" -eq 0 ] || echo "not root (the units run as root)"
}
why=$(mount_missing)
if [ -n "$why" ]; then
	skip "the daemon with the example config, the units' commands, fstab and autofs" "$why"
	done_testing
	exit
fi

art=$TEST_TMP/art
if ! "$PY" "$TARBALLS" realfiles "$art" --only zlib --compressions gz >/dev/null; then
	ok "the test artifacts are built" false
	done_testing
	exit
fi
"$PY" "$TARBALLS" toml "$art" "file://$art" -o "$TEST_TMP/Artifacts.toml"
mnt=$TEST_TMP/mnt
mkdir -p "$mnt"

# Every known key uncommented (with the toml and store of this test, a
# Pkg server that refuses at once and an empty overrides file): the daemon
# must start with them.
"$PY" - "$example" "$TEST_TMP/keys" "$TEST_TMP/Artifacts.toml" "$TEST_TMP/store" \
	>"$TEST_TMP/full.toml" <<'EOF'
import re, sys
example, keys, toml, store = sys.argv[1:]
keys = open(keys).read().split()
text = open(example).read()
for k in keys:
    text = re.sub(r"^#(%s = .*(\n# {4,}\S.*)*)" % k, lambda m: m.group(1).replace("\n#", "\n"),
                  text, flags=re.M)
text = re.sub(r'^toml = \[[^]]*\]', 'toml = ["%s"]' % toml, text, flags=re.M)
text = re.sub(r'^store = .*', 'store = "%s"' % store, text, flags=re.M)
text = re.sub(r'^pkg_server = .*', 'pkg_server = "http://127.0.0.1:1"', text, flags=re.M)
text = re.sub(r'^overrides = .*', 'overrides = "/dev/null"', text, flags=re.M)
sys.stdout.write(text)
EOF
set_keys() {
	sed -n 's/^\([a-z_][a-z_]*\) = .*/\1/p' "$TEST_TMP/full.toml" | sort >"$TEST_TMP/set"
	sort "$TEST_TMP/keys" | diff - "$TEST_TMP/set"
}
ok "the example with every known key uncommented sets each" set_keys
# (not under ok: it runs its command in a subshell, which would lose FS_PID)
mount_artifactfs "$mnt" -o "config=$TEST_TMP/full.toml" 2>"$TEST_TMP/full.err"
ok "... and the daemon starts with it" exit_is 0 test -n "$FS_PID"
unmount_artifactfs
ok "... and stops" exit_is 0 test "$?" -eq 0
ok "... and has unmounted" exit_is 1 grep -q " $mnt " /proc/self/mountinfo

# --- the unit's commands, as systemd runs them -------------------------------------------
printf 'store = "%s"\ntoml = ["%s"]\n' "$TEST_TMP/store" "$TEST_TMP/Artifacts.toml" \
	>"$TEST_TMP/svc.toml"
CONFIG=$TEST_TMP/svc.toml
MOUNTPOINT=$TEST_TMP/svc/mnt
MAINPID=
export CONFIG MOUNTPOINT MAINPID ARTIFACTFS
caps=$(unit_value artifactfs.service CapabilityBoundingSet |
	tr 'A-Z ' 'a-z\n' | sed -n 's/^cap_\(.*\)/,+\1/p' | tr -d '\n')
[ "$(unit_value artifactfs.service NoNewPrivileges)" = yes ] && nnp=--no-new-privs || nnp=
# run KEY: the unit's KEY= command under its capability bounding set.
run() {
	eval "setpriv $nnp --inh-caps=-all --bounding-set=-all$caps -- $(unit_cmd artifactfs.service "$1")"
}
# svc_start: ExecStart in the background; MAINPID is the daemon's pid
# (setpriv execs it), as systemd's is.
svc_start() {
	(eval "exec setpriv $nnp --inh-caps=-all --bounding-set=-all$caps -- \
		$(unit_cmd artifactfs.service ExecStart)") </dev/null >>"$TEST_TMP/svc.log" 2>&1 &
	MAINPID=$!
}
# svc_stop: systemd's stop, SIGTERM; the daemon's exit status in stop_rc.
# (In this shell, not in ok's subshell: the daemon is this shell's child.)
svc_stop() {
	kill -TERM "$MAINPID"
	wait "$MAINPID"
	stop_rc=$?
	MAINPID=
}
svc_cleanup() {
	[ -n "$MAINPID" ] && kill -KILL "$MAINPID" 2>/dev/null
	for _m in "$MOUNTPOINT" "$mnt"; do
		is_mounted "$_m" && umount -l "$_m"
	done
	return 0
}
at_exit svc_cleanup

ok "ExecStartPre creates the mount point" run ExecStartPre
ok "... a directory" test -d "$MOUNTPOINT"
svc_start
ok "ExecStartPost returns once the mount is ready" timeout 60 sh -c 'eval "$1"' sh \
	"$(unit_cmd artifactfs.service ExecStartPost)"
ok "... a fuse.artifactfs mount" is_mounted "$MOUNTPOINT"
ok "the daemon has the unit's capabilities, not all of root's" sh -c \
	"[ \"\$(grep CapBnd /proc/$MAINPID/status)\" != \"\$(grep CapBnd /proc/self/status)\" ]"
ok "... and installs and serves with them" \
	cmp "$MOUNTPOINT/zlib/lib/libz.so.1" "$art/src/zlib/lib/libz.so.1"
ok "ExecReload: a reload" run ExecReload
reloaded() {
	_i=0
	until grep -q 'reloaded' "$TEST_TMP/svc.log"; do
		_i=$((_i + 1))
		[ "$_i" -le 600 ] || return 1
		sleep 0.05
	done
}
ok "... the daemon reloads its files" reloaded
# stop_is_clean NAME: the exit status after SIGTERM is 0 (systemd marks a
# unit failed when its main process exits non-zero on stop).
stop_is_clean() {
	is "$1" "$stop_rc" 0
}
svc_stop
stop_is_clean "stop (SIGTERM): the daemon exits 0"
ok "... and has unmounted" sh -c "! awk -v m='$MOUNTPOINT' '\$5 == m { f=1 } END { exit !f }' /proc/self/mountinfo"
ok "ExecStopPost after a clean stop succeeds" run ExecStopPost

svc_start
ok "started again" timeout 60 sh -c 'eval "$1"' sh "$(unit_cmd artifactfs.service ExecStartPost)"
kill -KILL "$MAINPID"
wait "$MAINPID" 2>/dev/null
MAINPID=
ok "after a crash the dead mount stays" is_mounted "$MOUNTPOINT"
ok "... ExecStopPost unmounts it" run ExecStopPost
ok "... gone" sh -c "! awk -v m='$MOUNTPOINT' '\$5 == m { f=1 } END { exit !f }' /proc/self/mountinfo"
svc_start
ok "... so that a restart mounts again" timeout 60 sh -c 'eval "$1"' sh \
	"$(unit_cmd artifactfs.service ExecStartPost)"
ok "... and serves" cmp "$MOUNTPOINT/zlib/include/zlib.h" "$art/src/zlib/include/zlib.h"
svc_stop
stop_is_clean "... and stops with status 0"

printf 'no_such_setting = 1\n' >"$TEST_TMP/bad.toml"
CONFIG=$TEST_TMP/bad.toml
svc_start
fails "ExecStartPost fails when the daemon exits instead of mounting" \
	timeout 60 sh -c 'eval "$1"' sh "$(unit_cmd artifactfs.service ExecStartPost)"
wait "$MAINPID"
is "... the daemon's status" "$?" 1
MAINPID=
CONFIG=$TEST_TMP/svc.toml

# --- the fstab and autofs lines ----------------------------------------------------------
# Their options, with this test's config file, through mount(8)'s helper.
fstab_opts=$(awk '!/^#/ && NF { print $4 }' "$contrib/fstab.example")
is "the fstab line: type fuse.artifactfs, source artifactfs, /artifacts" \
	"$(awk '!/^#/ && NF { print NF, $1, $2, $3 }' "$contrib/fstab.example")" \
	"6 artifactfs /artifacts fuse.artifactfs"
auto_opts=$(awk '!/^#/ && NF { sub(/^-fstype=fuse\.artifactfs,/, "", $2); print $2 }' \
	"$contrib/auto.artifacts")
is "the autofs line: /artifacts, fuse.artifactfs, source artifactfs" \
	"$(awk '!/^#/ && NF { sub(/,.*/, "", $2); print NF, $1, $2, $3 }' "$contrib/auto.artifacts")" \
	"3 /artifacts -fstype=fuse.artifactfs :artifactfs"
for o in "$fstab_opts" "$auto_opts"; do
	o=$(printf '%s' "$o" | sed "s|config=/etc/artifactfs.toml|config=$CONFIG|")
	ok "mount -o $o" timeout 30 mount -t fuse "$ARTIFACTFS#artifactfs" "$mnt" -o "$o"
	ok "... serves" cmp "$mnt/zlib/lib/libz.so.1" "$art/src/zlib/lib/libz.so.1"
	ok "... unmounts" umount "$mnt"
done

done_testing
