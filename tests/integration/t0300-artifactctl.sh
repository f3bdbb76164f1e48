#!/bin/sh
# t0300-artifactctl.sh - artifactctl platform and artifactctl resolve: exit
# codes, output formats, and platform selection on the shared fixtures
# (hashes derived by hand in tests/unit/test-artifacts.c).
. "$TESTS_SRCDIR/lib.sh"

need_artifactctl

PYTHON3=${PYTHON3:-}
[ -n "$PYTHON3" ] && [ -x "$PYTHON3" ] || PYTHON3=$(command -v python3 2>/dev/null || true)

# first line of stdout of the last exit_is
out() {
	head -n 1 "$TEST_TMP/out"
}

# ---- artifactctl platform ------------------------------------------------------

ok "platform --help exits 0" exit_is 0 "$ARTIFACTCTL" platform --help
ok "platform --help prints usage on stdout" grep -q "^usage: .*platform" "$TEST_TMP/out"
ok "platform with a bad option exits 64" exit_is 64 "$ARTIFACTCTL" platform --no-such-option
ok "platform with two triplets exits 64" exit_is 64 "$ARTIFACTCTL" platform a b
ok "platform prints the host" exit_is 0 "$ARTIFACTCTL" platform
host=$(out)
is "the host triplet is one line" "$(wc -l <"$TEST_TMP/out" | tr -d ' ')" 1
ok "the host triplet parses" exit_is 0 "$ARTIFACTCTL" platform "$host"
is "the host triplet parses back to itself" "$(out)" "$host"
ok "an unparsable triplet exits 2" exit_is 2 "$ARTIFACTCTL" platform "x86_64-w32-mingw64"
ok "the message quotes the triplet" grep -qF "'x86_64-w32-mingw64'" "$TEST_TMP/err"
ok "a tag named os exits 2" exit_is 2 "$ARTIFACTCTL" platform "x86_64-linux-gnu-os+x"

# normalise <triplet> <expected>
normalise() {
	n_in=$1
	n_want=$2
	if exit_is 0 "$ARTIFACTCTL" platform "$n_in"; then
		is "platform $n_in" "$(out)" "$n_want"
	else
		is "platform $n_in" "(exit $?)" "$n_want"
	fi
}
normalise arm-linux-gnueabihf armv7l-linux-gnueabihf
normalise x86_64-apple-darwin17.0.0 x86_64-apple-darwin17
normalise x86_64-linux-gnu-gcc4-cxx11 x86_64-linux-gnu-libgfortran3-cxx11
normalise x86_64-linux-gnu-march+x86_64-cuda+10.1 x86_64-linux-gnu-cuda+10.1-march+x86_64
normalise i686-w64-mingw32 i686-w64-mingw32
normalise aarch64-unknown-freebsd aarch64-unknown-freebsd
normalise amd64-unknown-freebsd12.0 x86_64-unknown-freebsd12.0
normalise ppc64le-linux-gnu powerpc64le-linux-gnu
normalise riscv64-linux-gnu riscv64-linux-gnu
ok "platform --tags lists modes" exit_is 0 "$ARTIFACTCTL" platform --tags \
	x86_64-linux-gnu-julia_version+1.11.1
ok "julia_version compares major.minor" grep -qx "julia_version=1.11.1:majmin" "$TEST_TMP/out"

# ---- artifactctl resolve: command line -------------------------------------------

ok "resolve --help exits 0" exit_is 0 "$ARTIFACTCTL" resolve --help
ok "resolve --help prints usage on stdout" grep -q "^usage: .*resolve" "$TEST_TMP/out"
ok "resolve --help documents --tag modes" grep -q "majmin" "$TEST_TMP/out"
ok "resolve without arguments exits 64" exit_is 64 "$ARTIFACTCTL" resolve
ok "resolve with one argument exits 64" exit_is 64 "$ARTIFACTCTL" resolve x
ok "resolve with a bad option exits 64" exit_is 64 "$ARTIFACTCTL" resolve --nope x y
ok "resolve --tag without a value exits 64" exit_is 64 "$ARTIFACTCTL" resolve x y --tag
ok "resolve --tag without = exits 64" exit_is 64 "$ARTIFACTCTL" resolve --tag foo x y
ok "resolve --tag with a bad mode exits 64" exit_is 64 "$ARTIFACTCTL" resolve --tag a=b:up x y
ok "resolve --tag with a forbidden character exits 64" \
	exit_is 64 "$ARTIFACTCTL" resolve --tag a=b/c x y
ok "resolve --platform with a bad triplet exits 2" \
	exit_is 2 "$ARTIFACTCTL" resolve --platform bogus x y
ok "resolve of a missing file exits 1" exit_is 1 "$ARTIFACTCTL" resolve "$TEST_TMP/none.toml" x
ok "the message names the file" grep -qF "'$TEST_TMP/none.toml'" "$TEST_TMP/err"

cat >"$TEST_TMP/syntax.toml" <<'EOF'
[x]
git-tree-sha1 = "43563e7631a7eafae1f9f8d9d332e3de44ad7239"
lazy = yes
EOF
ok "a TOML syntax error exits 2" exit_is 2 "$ARTIFACTCTL" resolve "$TEST_TMP/syntax.toml" x
ok "the message has file:line:column" grep -qF "$TEST_TMP/syntax.toml:3:" "$TEST_TMP/err"

cat >"$TEST_TMP/Artifacts.toml" <<'EOF'
[x]
git-tree-sha1 = "43563E7631A7EAFAE1F9F8D9D332E3DE44AD7239"

[[y]]
arch = "x86_64"
os = "linux"
git-tree-sha1 = "0000000000000000000000000000000000000001"

[[y]]
arch = "x86_64"
os = "windows"

[[z]]
os = "linux"
git-tree-sha1 = "0000000000000000000000000000000000000002"
EOF
ok "resolve a table" exit_is 0 "$ARTIFACTCTL" resolve "$TEST_TMP/Artifacts.toml" x
is "the hash is lowercase" "$(out)" 43563e7631a7eafae1f9f8d9d332e3de44ad7239
ok "resolve a directory" exit_is 0 "$ARTIFACTCTL" resolve "$TEST_TMP" x
ok "an unknown name exits 3" exit_is 3 "$ARTIFACTCTL" resolve "$TEST_TMP/Artifacts.toml" nope
ok "the message names the artifact" grep -qF "'nope'" "$TEST_TMP/err"
ok "a good entry next to a broken one" \
	exit_is 0 "$ARTIFACTCTL" resolve -p x86_64-linux-gnu "$TEST_TMP/Artifacts.toml" y
is "y on linux" "$(out)" 0000000000000000000000000000000000000001
ok "the selected entry without git-tree-sha1 exits 2" \
	exit_is 2 "$ARTIFACTCTL" resolve -p x86_64-w64-mingw32 "$TEST_TMP/Artifacts.toml" y
ok "the message is Julia's" grep -qF 'contains no `git-tree-sha1`' "$TEST_TMP/err"
ok "no matching entry exits 3" \
	exit_is 3 "$ARTIFACTCTL" resolve -p aarch64-apple-darwin "$TEST_TMP/Artifacts.toml" y
ok "the message names the platform" grep -qF "'aarch64-apple-darwin'" "$TEST_TMP/err"
ok "an array entry without arch exits 2" \
	exit_is 2 "$ARTIFACTCTL" resolve "$TEST_TMP/Artifacts.toml" z
ok "the message names the missing key" grep -qF "missing 'arch' key" "$TEST_TMP/err"

# ---- on the shared fixtures ------------------------------------------------------

if [ -z "${ARTIFACTFS_SHARED:-}" ] || [ ! -f "$ARTIFACTFS_SHARED/spec/julia-artifacts.md" ]; then
	skip "fixture checks" "../shared not found"
	done_testing
	exit
fi
F=$ARTIFACTFS_SHARED/fixtures/artifacts-toml

# resolve_is NAME WANT ARGS...: artifactctl resolve ARGS prints WANT
resolve_is() {
	r_name=$1
	r_want=$2
	shift 2
	if exit_is 0 "$ARTIFACTCTL" resolve "$@"; then
		is "$r_name" "$(out)" "$r_want"
	else
		is "$r_name" "(exit $?: $(cat "$TEST_TMP/err"))" "$r_want"
	fi
}

# libLLVM: without llvm_version on the host, asserts wins the triplet tie (§1.7/§9)
resolve_is "libLLVM on x86_64-linux-gnu picks asserts" \
	4797484202626d9a54cb92e2847018b16c5e3469 \
	-p x86_64-linux-gnu "$F/libLLVM_jll.toml" libLLVM
resolve_is "libLLVM with --tag llvm_version=20 picks the plain build" \
	8219bd11d585bf17544278ecdd9fe1f2e38d67ae \
	-p x86_64-linux-gnu --tag llvm_version=20 "$F/libLLVM_jll.toml" libLLVM
resolve_is "libLLVM, the §9 worked example (gfortran5, cxx11, llvm 20)" \
	8219bd11d585bf17544278ecdd9fe1f2e38d67ae \
	-p x86_64-linux-gnu-libgfortran5-cxx11 --tag llvm_version=20:exact \
	"$F/libLLVM_jll.toml" libLLVM
resolve_is "libLLVM with --tag llvm_version=20.asserts" \
	4797484202626d9a54cb92e2847018b16c5e3469 \
	-p x86_64-linux-gnu-cxx11 --tag llvm_version=20.asserts "$F/libLLVM_jll.toml" libLLVM
resolve_is "libLLVM on aarch64-apple-darwin with llvm_version=20" \
	f7bfd4860ce90633b480044b2b8e2312c3e3a735 \
	-p aarch64-apple-darwin --tag llvm_version=20 "$F/libLLVM_jll.toml" libLLVM
ok "libLLVM with llvm_version=19 matches nothing" exit_is 3 "$ARTIFACTCTL" resolve \
	-p x86_64-linux-gnu --tag llvm_version=19 "$F/libLLVM_jll.toml" libLLVM
ok "the message names the platform with its tags" \
	grep -qF "'x86_64-linux-gnu-llvm_version+19'" "$TEST_TMP/err"

# CompilerSupportLibraries: libgfortran 5 only
resolve_is "CSL on x86_64-linux-gnu" e0ae8e1988425737cec3f6c615497f3284d9e771 \
	--platform x86_64-linux-gnu "$F/CompilerSupportLibraries_jll.toml" CompilerSupportLibraries
resolve_is "CSL on x86_64-linux-musl" a8a50304b330de9f3709e852f8d708ed7f7feb7f \
	--platform x86_64-linux-musl "$F/CompilerSupportLibraries_jll.toml" CompilerSupportLibraries
resolve_is "CSL on armv7l (tree shared with armv6l)" 5706c705c0e2334a19a4b3c5e6a1601316f16615 \
	--platform armv7l-linux-gnueabihf "$F/CompilerSupportLibraries_jll.toml" \
	CompilerSupportLibraries
ok "CSL on a libgfortran4 host matches nothing" exit_is 3 "$ARTIFACTCTL" resolve \
	--platform x86_64-linux-gnu-libgfortran4 "$F/CompilerSupportLibraries_jll.toml" \
	CompilerSupportLibraries
ok "the message names the platform" grep -qF "'x86_64-linux-gnu-libgfortran4'" "$TEST_TMP/err"
ok "--tag libgfortran_version=4 has the same effect" exit_is 3 "$ARTIFACTCTL" resolve \
	--platform x86_64-linux-gnu --tag libgfortran_version=4 \
	"$F/CompilerSupportLibraries_jll.toml" CompilerSupportLibraries
resolve_is "--tag libgfortran_version=5 (normalised to 5.0.0)" \
	e0ae8e1988425737cec3f6c615497f3284d9e771 \
	--platform x86_64-linux-gnu --tag libgfortran_version=5 \
	"$F/CompilerSupportLibraries_jll.toml" CompilerSupportLibraries

# custom tags with compare modes
resolve_is "CUDA_Runtime with cuda=12.4:cap" e96453ebb547458beda56a50ffec16dae1fc8014 \
	-p x86_64-linux-gnu --tag cuda=12.4:cap "$F/CUDA_Runtime_jll.toml" CUDA_Runtime
ok "CUDA_Runtime on aarch64-linux-musl matches nothing" exit_is 3 "$ARTIFACTCTL" resolve \
	-p aarch64-linux-musl "$F/CUDA_Runtime_jll.toml" CUDA_Runtime
resolve_is "libjulia with julia_version=1.11 (major.minor)" \
	6a8d2a050c8a13a736d3afa912722b781cbf9bd6 \
	-p x86_64-linux-gnu --tag julia_version=1.11 "$F/libjulia_jll.toml" libjulia
ok "julia_version with a conflicting mode exits 2" exit_is 2 "$ARTIFACTCTL" resolve \
	-p x86_64-linux-gnu --tag julia_version=1.11:cap "$F/libjulia_jll.toml" libjulia

# broken names fail only when used
resolve_is "arty next to a broken name" 43563e7631a7eafae1f9f8d9d332e3de44ad7239 \
	"$F/Pkg.jl-tests/artifacts-bad_no_gitsha.toml" arty
ok "broken_artifact without git-tree-sha1 exits 2" exit_is 2 "$ARTIFACTCTL" resolve \
	"$F/Pkg.jl-tests/artifacts-bad_no_gitsha.toml" broken_artifact
ok "... with Julia's message" grep -qF \
	"artifact 'broken_artifact' contains no \`git-tree-sha1\`" "$TEST_TMP/err"
ok "a string-valued name exits 2" exit_is 2 "$ARTIFACTCTL" resolve \
	"$F/Pkg.jl-tests/artifacts-bad_not_a_table.toml" broken_artifact
ok "... with Julia's message" grep -qF "malformed, must be array or dict" "$TEST_TMP/err"

# JuliaArtifacts.toml wins in a directory (§1.1)
mkdir "$TEST_TMP/search"
cp "$F/Pkg.jl-tests/test-packages_ArtifactTOMLSearch_julia_artifacts_test_Artifacts.toml" \
	"$TEST_TMP/search/Artifacts.toml"
cp "$F/Pkg.jl-tests/test-packages_ArtifactTOMLSearch_julia_artifacts_test_JuliaArtifacts.toml" \
	"$TEST_TMP/search/JuliaArtifacts.toml"
resolve_is "JuliaArtifacts.toml wins over Artifacts.toml" \
	43563e7631a7eafae1f9f8d9d332e3de44ad7239 "$TEST_TMP/search" arty
rm "$TEST_TMP/search/JuliaArtifacts.toml"
ok "without it, the comment-only Artifacts.toml has no arty" \
	exit_is 3 "$ARTIFACTCTL" resolve "$TEST_TMP/search" arty

# --json
ok "resolve --json exits 0" exit_is 0 "$ARTIFACTCTL" resolve --json \
	-p x86_64-linux-gnu --tag llvm_version=20 "$F/libLLVM_jll.toml" libLLVM
cp "$TEST_TMP/out" "$TEST_TMP/llvm.json"
ok "resolve --json on a table" exit_is 0 "$ARTIFACTCTL" resolve --json \
	"$F/Pkg.jl-tests/test-packages_ArtifactInstallation_Artifacts.toml" socrates
cp "$TEST_TMP/out" "$TEST_TMP/socrates.json"
if [ -n "$PYTHON3" ]; then
	ok "--json parses, platform entry" "$PYTHON3" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["name"] == "libLLVM", d
assert d["git-tree-sha1"] == "8219bd11d585bf17544278ecdd9fe1f2e38d67ae", d
assert d["lazy"] is False, d
assert d["triplet"] == "x86_64-linux-gnu-cxx11-llvm_version+20", d
assert len(d["downloads"]) == 1, d
sha = "aa061efab079e2505813ab29a77f9eda43ca82866755570bc921da6786b7722f"
assert d["downloads"][0]["sha256"] == sha, d
assert d["downloads"][0]["url"].endswith("x86_64-linux-gnu-cxx11-llvm_version+20.tar.gz"), d
' "$TEST_TMP/llvm.json"
	ok "--json parses, table entry" "$PYTHON3" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["git-tree-sha1"] == "43563e7631a7eafae1f9f8d9d332e3de44ad7239", d
assert d["lazy"] is True, d
assert d["triplet"] is None, d
assert [x["url"].rsplit(".", 1)[1] for x in d["downloads"]] == ["gz", "bz2"], d
' "$TEST_TMP/socrates.json"
else
	skip "--json parses, platform entry" "python3 not found"
	skip "--json parses, table entry" "python3 not found"
fi

# the host detected by 'platform' is the default of 'resolve'
ok "resolve without --platform uses the host" exit_is 0 "$ARTIFACTCTL" resolve \
	"$F/MozillaCACerts_jll.toml" MozillaCACerts
is "platform independent entry" "$(out)" cab04ed2b7f3b603c934107793cb9f81337d96d3

done_testing
