/*
 * test-artifacts.c - the Artifacts.toml model (fetch/artifacts.h)
 *
 * The expected selections below were worked out by hand from the rules of
 * spec/julia-artifacts.md §1.2-§1.7 and the fixture contents in
 * ../shared/fixtures/artifacts-toml; each row says why.  Host triplets are
 * read with platform_host() (HostPlatform(parse(...))), so they carry only
 * what the triplet says plus the constructor defaults: no julia_version,
 * no libgfortran_version unless written.  "L" rows add llvm_version=20
 * (exact) to the host.
 *
 * Loss = number of tag names on one side only (arch and os count on both
 * sides).  Unless a row says otherwise, llvm_version=20 on the host adds 1
 * to the loss of every candidate of a file without llvm_version tags, which
 * changes no choice.
 */
#include "fetch/artifacts.h"
#include "fetch/platform.h"
#include "tests/tap.h"
#include "tests/unit/util.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

static char fixdir[4096];
static char tmpdir[4096];

#define H1 "x86_64-linux-gnu"
#define H2 "x86_64-linux-gnu-libgfortran5-cxx11"
#define H3 "aarch64-linux-musl"
#define H4 "aarch64-apple-darwin"
#define H5 "x86_64-w64-mingw32"
#define H6 "armv7l-linux-gnueabihf"
#define H7 "riscv64-linux-gnu"
#define H8 "aarch64-linux-gnu"	/* extra: aarch64 glibc entries differ from musl */

enum { NOL = 1, WITHL = 2, BOTH = 3 };
#define NOMATCH "(no match)"

static const struct sel {
	const char *file, *name, *host;
	int llvm;		/* NOL, WITHL or BOTH */
	const char *want;	/* git-tree-sha1, or NOMATCH */
} sels[] = {
	/*
	 * Zlib_jll: one entry per platform plus x86_64 glibc sanitize=memory.
	 * H1: plain {arch,os,libc} loss 0 (1 with L) beats sanitize loss 1 (2).
	 * H2: plain loss 2 (gf, cxx) beats sanitize loss 3.  Others: the one
	 * entry whose arch/os/libc(/call_abi) equal the host's.
	 */
	{ "Zlib_jll.toml", "Zlib", H1, BOTH, "438377fe76907b3472fe256e7189bcee5430637b" },
	{ "Zlib_jll.toml", "Zlib", H2, BOTH, "438377fe76907b3472fe256e7189bcee5430637b" },
	{ "Zlib_jll.toml", "Zlib", H3, BOTH, "4a3d180fea631404945173d919f1a829697d2488" },
	{ "Zlib_jll.toml", "Zlib", H4, BOTH, "21c6c94e9e7c49ed03a5d89e578f120ba3174b35" },
	{ "Zlib_jll.toml", "Zlib", H5, BOTH, "582a8e879916a111cab7838f4166278b9f84193c" },
	/* armv7l entry has call_abi=eabihf, as the host (default, §1.3) */
	{ "Zlib_jll.toml", "Zlib", H6, BOTH, "c5d77fa01cf4033b281fdeb6dc957cff3ee0bf02" },
	{ "Zlib_jll.toml", "Zlib", H7, BOTH, "ad786e605250fc27b859347a1b79991fb13ae4ae" },

	/* OpenSSL_jll: plain matrix, exactly one entry matches each host */
	{ "OpenSSL_jll.toml", "OpenSSL", H1, BOTH, "f21d2f66c3420d44824aee0e824c428ab493dfc8" },
	{ "OpenSSL_jll.toml", "OpenSSL", H2, BOTH, "f21d2f66c3420d44824aee0e824c428ab493dfc8" },
	{ "OpenSSL_jll.toml", "OpenSSL", H3, BOTH, "21a6503a621a5f276e72157f1d2e8b1f7bffb1a6" },
	{ "OpenSSL_jll.toml", "OpenSSL", H4, BOTH, "f3660ec65835cf566d99cc6bf0f5c6d7e4aae072" },
	/* Windows entries have no libc; the host has none either */
	{ "OpenSSL_jll.toml", "OpenSSL", H5, BOTH, "6b6805ebb0a64a3e27b7b218a4ae1ab8386b5be6" },
	{ "OpenSSL_jll.toml", "OpenSSL", H6, BOTH, "d47d858870446ab8472df4394f07df634e557f47" },
	{ "OpenSSL_jll.toml", "OpenSSL", H7, BOTH, "a51c6f3c81beaf7b141dbbae8669cc1cb0ffd4c1" },

	/* HelloWorldC_jll v1.4.1: plain matrix incl. riscv64 */
	{ "HelloWorldC_jll.toml", "HelloWorldC", H1, BOTH,
	  "8c8251b0c21615bce0701995eded26ac7697b5cc" },
	{ "HelloWorldC_jll.toml", "HelloWorldC", H2, BOTH,
	  "8c8251b0c21615bce0701995eded26ac7697b5cc" },
	{ "HelloWorldC_jll.toml", "HelloWorldC", H3, BOTH,
	  "cb4b8c88778c6cd93b6df38ec5b95a2678434f5d" },
	{ "HelloWorldC_jll.toml", "HelloWorldC", H4, BOTH,
	  "b8ce48f9326c8545aa944a3a653fd28f12c3a788" },
	{ "HelloWorldC_jll.toml", "HelloWorldC", H5, BOTH,
	  "6e1eb164b0651aa44621eac4dfa340d6e60295ef" },
	{ "HelloWorldC_jll.toml", "HelloWorldC", H6, BOTH,
	  "0a8e7b523ef6be31311aefe9983a488616e58201" },
	{ "HelloWorldC_jll.toml", "HelloWorldC", H7, BOTH,
	  "3769a75af09c4bb6dfee4b537d64a3f5eb95daa1" },

	/*
	 * CompilerSupportLibraries_jll: libgfortran_version 5.0.0 everywhere;
	 * a host without the tag treats it as a wildcard, H2's 5.0.0 equals it.
	 * H6: the armv7l entry (same tree as armv6l, different arch).
	 */
	{ "CompilerSupportLibraries_jll.toml", "CompilerSupportLibraries", H1, BOTH,
	  "e0ae8e1988425737cec3f6c615497f3284d9e771" },
	{ "CompilerSupportLibraries_jll.toml", "CompilerSupportLibraries", H2, BOTH,
	  "e0ae8e1988425737cec3f6c615497f3284d9e771" },
	{ "CompilerSupportLibraries_jll.toml", "CompilerSupportLibraries", H3, BOTH,
	  "bb427dda1dc6afa41aae83444102236dded1a616" },
	{ "CompilerSupportLibraries_jll.toml", "CompilerSupportLibraries", H4, BOTH,
	  "612d69a172a9026ee92409ae5a9dc351227687cc" },
	{ "CompilerSupportLibraries_jll.toml", "CompilerSupportLibraries", H5, BOTH,
	  "1fbe55b216a56a1f8dca6fdd96679a27169b6eb3" },
	{ "CompilerSupportLibraries_jll.toml", "CompilerSupportLibraries", H6, BOTH,
	  "5706c705c0e2334a19a4b3c5e6a1601316f16615" },
	{ "CompilerSupportLibraries_jll.toml", "CompilerSupportLibraries", H7, BOTH,
	  "95ea0f81547dba3eaf7221dc8d742e6ced140302" },

	/*
	 * OpenBLAS_jll: gf 3/4/5 per platform, plus x86_64 glibc sanitize=memory
	 * without libgfortran_version.
	 * H1 {arch,os,libc}: gf3, gf4, gf5 and sanitize all match with loss 1
	 * (2 with L); descending triplet: "x86_64-linux-gnu-sanitize+memory" >
	 * "...-libgfortran5" ('s' > 'l'), so the sanitize build wins.  This is
	 * the released algorithm's hazard for a host without libgfortran_version
	 * (a Julia host always has one); §1.7 rules applied as written.
	 * H2 (gf5, cxx11): gf3/gf4 fail; gf5 loss 1 (cxx) < sanitize loss 3
	 * (gf, cxx, sanitize) -> gf5.
	 * H3/H5/H6: gf3/4/5 tie at loss 1 -> "...-libgfortran5" is greatest.
	 * H4 and H7 have a gf5 entry only.
	 */
	{ "OpenBLAS_jll.toml", "OpenBLAS", H1, BOTH, "3c499dce857dafc5a45f1bf699cd3277d1c699a5" },
	{ "OpenBLAS_jll.toml", "OpenBLAS", H2, BOTH, "22decf159954675b5c2045ddc5a7930a4c522b0e" },
	{ "OpenBLAS_jll.toml", "OpenBLAS", H3, BOTH, "ec2edcf5f620846c4fce37fd972e35e4b3cfd289" },
	{ "OpenBLAS_jll.toml", "OpenBLAS", H4, BOTH, "cb68c551f9146e7afce739e14dbe2ad908844746" },
	{ "OpenBLAS_jll.toml", "OpenBLAS", H5, BOTH, "bf82861dbf2815c94178ceb2fe291bfcabe8ebad" },
	{ "OpenBLAS_jll.toml", "OpenBLAS", H6, BOTH, "3ba59e5939277d02f07df322b7eb0cdfbdb45569" },
	{ "OpenBLAS_jll.toml", "OpenBLAS", H7, BOTH, "4e14cab7788a8e2a94353fb48dd22d3f393ffce5" },

	/*
	 * CUDA_Runtime_jll: cuda = 10.2 ... 13.2 (custom tag; the host has none,
	 * so every version matches with loss 1); byte-wise greatest triplet is
	 * "...-cuda+13.2".  aarch64 entries are glibc only (H3: none), no
	 * macOS, armv7l or riscv64 entries.  H8: 13.2/13.1/13.0 have no
	 * cuda_platform (loss 1) and beat the 12.x jetson/sbsa ones (loss 2).
	 */
	{ "CUDA_Runtime_jll.toml", "CUDA_Runtime", H1, BOTH,
	  "9d2955c60d941c8f6d539587c8d27bc3915e6e99" },
	{ "CUDA_Runtime_jll.toml", "CUDA_Runtime", H2, BOTH,
	  "9d2955c60d941c8f6d539587c8d27bc3915e6e99" },
	{ "CUDA_Runtime_jll.toml", "CUDA_Runtime", H3, BOTH, NOMATCH },
	{ "CUDA_Runtime_jll.toml", "CUDA_Runtime", H4, BOTH, NOMATCH },
	{ "CUDA_Runtime_jll.toml", "CUDA_Runtime", H5, BOTH,
	  "4c1c2e1508c0851f271cb7625a52105f1793baed" },
	{ "CUDA_Runtime_jll.toml", "CUDA_Runtime", H6, BOTH, NOMATCH },
	{ "CUDA_Runtime_jll.toml", "CUDA_Runtime", H7, BOTH, NOMATCH },
	{ "CUDA_Runtime_jll.toml", "CUDA_Runtime", H8, BOTH,
	  "51c33dd47c435be529b423a26d3fdf6b70763b68" },

	/*
	 * libjulia_jll: julia_version 1.10.0 ... 1.14.0 on every entry; a host
	 * without julia_version matches all with loss 1, the greatest triplet
	 * is "...-julia_version+1.14.0".  No armv7l entries; riscv64 has 1.13
	 * and 1.14 only.
	 */
	{ "libjulia_jll.toml", "libjulia", H1, BOTH, "494078ca7af7e8c6822270b8165c59d7cd35e33e" },
	{ "libjulia_jll.toml", "libjulia", H2, BOTH, "494078ca7af7e8c6822270b8165c59d7cd35e33e" },
	{ "libjulia_jll.toml", "libjulia", H3, BOTH, "bfaa7fe0a2d033fe68e099b557782cf5d3f1b794" },
	{ "libjulia_jll.toml", "libjulia", H4, BOTH, "3392b02d7c5071b4576c29065ff69bfafa9bc9f1" },
	{ "libjulia_jll.toml", "libjulia", H5, BOTH, "eb57dfa08da34ec4a42e8336eac3ce6d39ce88b4" },
	{ "libjulia_jll.toml", "libjulia", H6, BOTH, NOMATCH },
	{ "libjulia_jll.toml", "libjulia", H7, BOTH, "0f9c6c4238ab522e6bb6e3d01ef2009adc3f360e" },

	/*
	 * libLLVM_jll: every entry has llvm_version "20" or "20.asserts" and,
	 * except macOS/FreeBSD, cxxstring_abi cxx03 or cxx11.
	 * Without L (§1.7/§9 hazard): plain and asserts tie on loss; the
	 * descending triplet prefers "cxx11" over "cxx03" and
	 * "...llvm_version+20.asserts" over "...+20" (longer), so asserts wins.
	 *  H1: cxx03/cxx11 x 20/asserts all loss 2 (cxx, llvm), sanitize loss 3
	 *      -> x86_64-linux-gnu-cxx11-llvm_version+20.asserts.
	 *  H2: cxx03 fails; cxx11 20/asserts loss 2 (gf, llvm), sanitize 3 ->
	 *      asserts (§9: "plain and asserts both ... picks asserts").
	 *  H3/H5/H6/H7/H8: four entries loss 2 -> cxx11 asserts.
	 *  H4: macOS has no cxxstring_abi: 20/asserts loss 1 -> asserts.
	 * With L (exact): asserts entries fail; cxx03/cxx11 "20" tie on loss
	 * (H1: 1, H2: 1 as cxx03 fails) and cxx11 sorts higher; the sanitize
	 * entry costs one more.  H2+L is the §9 worked example -> 8219bd11.
	 */
	{ "libLLVM_jll.toml", "libLLVM", H1, NOL, "4797484202626d9a54cb92e2847018b16c5e3469" },
	{ "libLLVM_jll.toml", "libLLVM", H1, WITHL, "8219bd11d585bf17544278ecdd9fe1f2e38d67ae" },
	{ "libLLVM_jll.toml", "libLLVM", H2, NOL, "4797484202626d9a54cb92e2847018b16c5e3469" },
	{ "libLLVM_jll.toml", "libLLVM", H2, WITHL, "8219bd11d585bf17544278ecdd9fe1f2e38d67ae" },
	{ "libLLVM_jll.toml", "libLLVM", H3, NOL, "cf437378a53889b08d0629b10c7a2a54383c8992" },
	{ "libLLVM_jll.toml", "libLLVM", H3, WITHL, "047d2733273face85284a9ed1a5dcf876c89b480" },
	{ "libLLVM_jll.toml", "libLLVM", H4, NOL, "cd8f3a932d85bda8bdb1ae5d33eeda371bb97451" },
	{ "libLLVM_jll.toml", "libLLVM", H4, WITHL, "f7bfd4860ce90633b480044b2b8e2312c3e3a735" },
	{ "libLLVM_jll.toml", "libLLVM", H5, NOL, "c6efd5743b7125d8e2112beeca508b7a7d86ec7a" },
	{ "libLLVM_jll.toml", "libLLVM", H5, WITHL, "a3c796f62de977903e88e92f987cd85fb43ec8e2" },
	{ "libLLVM_jll.toml", "libLLVM", H6, NOL, "c7bce1ec230055136682b74cb191d917204a0f05" },
	{ "libLLVM_jll.toml", "libLLVM", H6, WITHL, "36ccf38876dbc5945532fcfb0ed6fb2734a92139" },
	{ "libLLVM_jll.toml", "libLLVM", H7, NOL, "22cc11805fe9a08bce0c83e35b8150228fa34cba" },
	{ "libLLVM_jll.toml", "libLLVM", H7, WITHL, "003339bbca4167a349ae0322624e73a7c2bbddc0" },
	{ "libLLVM_jll.toml", "libLLVM", H8, NOL, "042ed305172cb02dd0fda49bec17a48e1f74a323" },
	{ "libLLVM_jll.toml", "libLLVM", H8, WITHL, "7c5683ee695cc5b8c61b4147e15f0447af5282a7" },

	/* MozillaCACerts_jll: single table, platform independent (§1.2) */
	{ "MozillaCACerts_jll.toml", "MozillaCACerts", H1, BOTH,
	  "cab04ed2b7f3b603c934107793cb9f81337d96d3" },
	{ "MozillaCACerts_jll.toml", "MozillaCACerts", H4, BOTH,
	  "cab04ed2b7f3b603c934107793cb9f81337d96d3" },
	{ "MozillaCACerts_jll.toml", "MozillaCACerts", H7, BOTH,
	  "cab04ed2b7f3b603c934107793cb9f81337d96d3" },

	/*
	 * Pkg.jl-tests ArtifactInstallation: HelloWorldC v1.1.3 array (16
	 * platforms, no riscv64) next to the tables socrates (lazy) and
	 * collapse_the_symlink.
	 */
	{ "Pkg.jl-tests/test-packages_ArtifactInstallation_Artifacts.toml", "HelloWorldC", H1, BOTH,
	  "93c882bd60afb35d7f3377233c72ca6792611913" },
	{ "Pkg.jl-tests/test-packages_ArtifactInstallation_Artifacts.toml", "HelloWorldC", H2, BOTH,
	  "93c882bd60afb35d7f3377233c72ca6792611913" },
	{ "Pkg.jl-tests/test-packages_ArtifactInstallation_Artifacts.toml", "HelloWorldC", H3, BOTH,
	  "66f4db0bfae40b6dc9fc61f03575b0fe7abee649" },
	{ "Pkg.jl-tests/test-packages_ArtifactInstallation_Artifacts.toml", "HelloWorldC", H4, BOTH,
	  "ed3b9114aa057398ef7d5152d76823f352b7656b" },
	{ "Pkg.jl-tests/test-packages_ArtifactInstallation_Artifacts.toml", "HelloWorldC", H5, BOTH,
	  "d95b52cc23084289096b559c41dea65c5ddf4866" },
	{ "Pkg.jl-tests/test-packages_ArtifactInstallation_Artifacts.toml", "HelloWorldC", H6, BOTH,
	  "45b5a5d1d79446a6e29f5c9884c217511f04e4f9" },
	{ "Pkg.jl-tests/test-packages_ArtifactInstallation_Artifacts.toml", "HelloWorldC", H7, BOTH,
	  NOMATCH },
	{ "Pkg.jl-tests/test-packages_ArtifactInstallation_Artifacts.toml", "socrates", H5, BOTH,
	  "43563e7631a7eafae1f9f8d9d332e3de44ad7239" },
	{ "Pkg.jl-tests/test-packages_ArtifactInstallation_Artifacts.toml", "collapse_the_symlink",
	  H3, BOTH, "69a468bd51751f4ed7eda31c240e775df06d6ee6" },
	/* the "bad" files are bad at install time only: their hashes are well-formed */
	{ "Pkg.jl-tests/artifacts-bad_doesnotexist.toml", "does_not_exist", H1, BOTH,
	  "0000000000000000000000000000000000000000" },
	{ "Pkg.jl-tests/artifacts-bad_incorrect_gitsha.toml", "broken_artifact", H1, BOTH,
	  "0000000000000000000000000000000000000000" },
	{ "Pkg.jl-tests/artifacts-bad_incorrect_sha256.toml", "broken_artifact", H1, BOTH,
	  "0000000000000000000000000000000000000000" },
	/* a broken name does not break its neighbours */
	{ "Pkg.jl-tests/artifacts-bad_no_gitsha.toml", "arty", H1, BOTH,
	  "43563e7631a7eafae1f9f8d9d332e3de44ad7239" },
	{ "Pkg.jl-tests/artifacts-bad_not_a_table.toml", "arty", H1, BOTH,
	  "43563e7631a7eafae1f9f8d9d332e3de44ad7239" },
	{ "Pkg.jl-tests/test-packages_ArtifactOverrideLoading_Artifacts.toml", "arty", H1, BOTH,
	  "0000000000000000000000000000000000000000" },
	{ "Pkg.jl-tests/test-packages_ArtifactOverrideLoading_Artifacts.toml", "barty", H1, BOTH,
	  "1111111111111111111111111111111111111111" },
	{ "Pkg.jl-tests/test-packages_ArtifactTOMLSearch_Artifacts.toml", "arty", H6, BOTH,
	  "43563e7631a7eafae1f9f8d9d332e3de44ad7239" },
	{ "Pkg.jl-tests/test-packages_ArtifactTOMLSearch_julia_artifacts_test_JuliaArtifacts.toml",
	  "arty", H1, BOTH, "43563e7631a7eafae1f9f8d9d332e3de44ad7239" },
};

/* Files whose names fail when used, with the error Julia gives (§1.2). */
static const struct {
	const char *file, *name, *msg;
} broken[] = {
	{ "Pkg.jl-tests/artifacts-bad_no_gitsha.toml", "broken_artifact",
	  "contains no `git-tree-sha1`" },
	{ "Pkg.jl-tests/artifacts-bad_not_a_table.toml", "broken_artifact",
	  "malformed, must be array or dict" },
};

static struct artifacts *load(const char *file)
{
	struct artifacts *a = NULL;
	char path[8192], *msg = NULL;

	snprintf(path, sizeof(path), "%s/%s", fixdir, file);
	if (artifacts_load(path, &a, &msg) < 0) {
		diag("%s", msg ? msg : "load failed");
		free(msg);
		return NULL;
	}
	return a;
}

static struct platform *host(const char *triplet, bool llvm)
{
	struct platform *h = NULL;

	if (platform_host(triplet, &h) < 0)
		return NULL;
	if (llvm && platform_set_tag_spec(h, "llvm_version=20") < 0) {
		platform_free(h);
		return NULL;
	}
	return h;
}

/* The selected git-tree-sha1, NOMATCH, or "(error N: msg)" (static storage). */
static const char *resolve(const struct artifacts *a, const char *name, const struct platform *h)
{
	static char out[1024];
	const struct artifact_entry *e;
	char *msg = NULL;
	int r;

	if (!a || !h)
		return "(no file or host)";
	r = artifacts_select(a, name, h, &e, &msg);
	if (r == -ENXIO)
		snprintf(out, sizeof(out), NOMATCH);
	else if (r < 0)
		snprintf(out, sizeof(out), "(error %d: %s)", r, msg ? msg : "");
	else
		snprintf(out, sizeof(out), "%s", artifact_entry_hash(e));
	free(msg);
	return out;
}

static void test_selection(void)
{
	size_t i;
	int l;

	for (i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
		struct artifacts *a = load(sels[i].file);

		for (l = 0; l < 2; l++) {
			struct platform *h;

			if (!(sels[i].llvm & (l ? WITHL : NOL)))
				continue;
			h = host(sels[i].host, l);
			is_str(resolve(a, sels[i].name, h), sels[i].want, "%s: %s on %s%s",
				sels[i].file, sels[i].name, sels[i].host,
				l ? " + llvm_version=20" : "");
			platform_free(h);
		}
		artifacts_free(a);
	}
}

/* Custom host tags and compare modes on real files. */
static void test_host_tags(void)
{
	struct artifacts *a;
	struct platform *h;

	a = load("CUDA_Runtime_jll.toml");
	/*
	 * cuda=12.4 as a version cap: every cuda <= 12.4 matches with loss 0,
	 * 12.5+ fail; greatest triplet "x86_64-linux-gnu-cuda+12.4".
	 */
	h = host(H1, false);
	platform_set_tag_spec(h, "cuda=12.4:cap");
	is_str(resolve(a, "CUDA_Runtime", h), "e96453ebb547458beda56a50ffec16dae1fc8014",
		"CUDA_Runtime, host cuda<=12.4 -> 12.4");
	platform_free(h);
	/* exact cuda=12.9 and cuda_platform=sbsa on aarch64: the sbsa 12.9 entry, loss 0 */
	h = host(H8, false);
	platform_set_tag_spec(h, "cuda=12.9");
	platform_set_tag_spec(h, "cuda_platform=sbsa");
	is_str(resolve(a, "CUDA_Runtime", h), "5ded5d62a4f3356dcd2b4d2359f3f3c3c2f86963",
		"CUDA_Runtime, aarch64 cuda=12.9 sbsa");
	platform_free(h);
	/*
	 * without cuda_platform on the host, the 12.9 jetson and sbsa entries
	 * tie on loss 1 and "...-cuda_platform+sbsa" > "...+jetson" ('s' > 'j')
	 */
	h = host(H8, false);
	platform_set_tag_spec(h, "cuda=12.9");
	is_str(resolve(a, "CUDA_Runtime", h), "5ded5d62a4f3356dcd2b4d2359f3f3c3c2f86963",
		"CUDA_Runtime, aarch64 cuda=12.9, no cuda_platform -> sbsa sorts last");
	platform_free(h);
	h = host(H1, false);
	platform_set_tag_spec(h, "cuda=9.0:cap");
	is_str(resolve(a, "CUDA_Runtime", h), NOMATCH, "CUDA_Runtime, cuda<=9.0 -> no match");
	platform_free(h);
	artifacts_free(a);

	a = load("libjulia_jll.toml");
	/* julia_version compares on major.minor: 1.11 -> the 1.11.1 entry (§9) */
	h = host(H1, false);
	platform_set_tag_spec(h, "julia_version=1.11");
	is_str(resolve(a, "libjulia", h), "6a8d2a050c8a13a736d3afa912722b781cbf9bd6",
		"libjulia, julia 1.11 -> 1.11.1 entry");
	platform_set_tag_spec(h, "julia_version=1.9.4");
	is_str(resolve(a, "libjulia", h), NOMATCH, "libjulia, julia 1.9 -> no match");
	/* cap on the host against the entries' major.minor: Julia throws */
	platform_set_tag_spec(h, "julia_version=1.11:cap");
	ok(strncmp(resolve(a, "libjulia", h), "(error -22: ", 12) == 0,
		"libjulia, conflicting compare modes -> -EINVAL");
	platform_free(h);
	/* a host from a full Julia-style triplet */
	h = host("x86_64-linux-gnu-libgfortran5-cxx11-libstdcxx30-julia_version+1.12.4", false);
	is_str(resolve(a, "libjulia", h), "c0c19ba19f5d7fd76e4e58d74c7bb7aafe2f07f3",
		"libjulia, Julia 1.12.4 host triplet -> 1.12.0 entry");
	platform_free(h);
	artifacts_free(a);
}

/*
 * The fixtures' names the table sels[] does not cover on H1, with what
 * Julia selects there.  Each is the git-tree-sha1 of a platform-independent
 * table (§1.2: the host does not matter), read from the fixture.
 */
static const struct {
	const char *file, *name, *want;
} sweep_only[] = {
	{ "Pkg.jl-tests/test-packages_ArtifactInstallation_Artifacts.toml", "socrates",
	  "43563e7631a7eafae1f9f8d9d332e3de44ad7239" },
	{ "Pkg.jl-tests/test-packages_ArtifactInstallation_Artifacts.toml",
	  "collapse_the_symlink", "69a468bd51751f4ed7eda31c240e775df06d6ee6" },
	{ "Pkg.jl-tests/test-packages_ArtifactTOMLSearch_Artifacts.toml", "arty",
	  "43563e7631a7eafae1f9f8d9d332e3de44ad7239" },
};

/*
 * sweep_want - the expected answer on H1 (no llvm_version) for a name of a
 * fixture: from sels[] or sweep_only[]; a name with neither fails.
 */
static const char *sweep_want(const char *file, const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(sels) / sizeof(sels[0]); i++)
		if (strcmp(sels[i].file, file) == 0 && strcmp(sels[i].name, name) == 0 &&
		    strcmp(sels[i].host, H1) == 0 && (sels[i].llvm & NOL))
			return sels[i].want;
	for (i = 0; i < sizeof(sweep_only) / sizeof(sweep_only[0]); i++)
		if (strcmp(sweep_only[i].file, file) == 0 && strcmp(sweep_only[i].name, name) == 0)
			return sweep_only[i].want;
	return "(no expected answer in the test)";
}

static void test_fixtures_load(void)
{
	static const char *const dirs[] = { "", "Pkg.jl-tests/" };
	struct platform *h = host(H1, false);
	size_t d, i, j, nfiles = 0;

	for (d = 0; d < 2; d++) {
		char dir[8192];
		struct dirent *de;
		DIR *dp;

		snprintf(dir, sizeof(dir), "%s/%s", fixdir, dirs[d]);
		dp = opendir(dir);
		ok(dp != NULL, "open %s", dir);
		if (!dp)
			continue;
		while ((de = readdir(dp))) {
			char file[1024], *msg = NULL;
			size_t len = strlen(de->d_name);
			struct artifacts *a;
			int bad_file = 0, r;

			if (len < 5 || strcmp(de->d_name + len - 5, ".toml") != 0)
				continue;
			nfiles++;
			snprintf(file, sizeof(file), "%s%s", dirs[d], de->d_name);
			a = load(file);
			ok(a != NULL, "%s loads", file);
			if (!a)
				continue;
			for (j = 0; j < sizeof(broken) / sizeof(broken[0]); j++)
				if (strcmp(broken[j].file, file) == 0)
					bad_file = 1;
			/* every name resolves, finds no match, or fails as Julia would */
			for (i = 0; i < artifacts_count(a); i++) {
				const char *name = artifacts_name_at(a, i);
				const char *res = resolve(a, name, h);
				int expect_bad = 0;

				for (j = 0; j < sizeof(broken) / sizeof(broken[0]); j++) {
					if (strcmp(broken[j].file, file) != 0 ||
					    strcmp(broken[j].name, name) != 0)
						continue;
					expect_bad = 1;
					ok(strstr(res, broken[j].msg) &&
						   strstr(res, artifacts_path(a)) &&
						   strstr(res, "'broken_artifact'"),
						"%s: %s fails with \"%s\" naming file and artifact",
						file, name, broken[j].msg);
					diag("%s", res);
				}
				if (!expect_bad)
					is_str(res, sweep_want(file, name),
						"%s: %s resolves on " H1, file, name);
			}
			r = artifacts_check(a, &msg);
			if (bad_file)
				ok(r == -EINVAL && msg && strstr(msg, "broken_artifact"),
					"%s: strict check fails", file);
			else
				ok(r == 0 && msg == NULL, "%s: strict check passes", file);
			free(msg);
			artifacts_free(a);
		}
		closedir(dp);
	}
	is_int(nfiles, 19, "19 fixture files");
	platform_free(h);
}

static void test_model(void)
{
	const struct artifact_download *dl;
	const struct artifact_entry *e;
	const struct artifact_entry *const *all;
	struct artifacts *a;
	struct platform *h = host(H1, false);
	size_t n;
	char *j = NULL;

	a = load("Pkg.jl-tests/test-packages_ArtifactInstallation_Artifacts.toml");
	if (!a) {
		skip("ArtifactInstallation did not load");
		platform_free(h);
		return;
	}
	is_int(artifacts_count(a), 3, "ArtifactInstallation: 3 names");
	is_str(artifacts_name_at(a, 0), "HelloWorldC", "names in file order (0)");
	is_str(artifacts_name_at(a, 1), "socrates", "names in file order (1)");
	is_str(artifacts_name_at(a, 2), "collapse_the_symlink", "names in file order (2)");
	is_str(artifacts_name_at(a, 3), NULL, "name_at out of range");
	ok(artifacts_entries(a, "HelloWorldC", &all, &n, NULL) == 0 && n == 16,
		"HelloWorldC has 16 entries");
	ok(artifacts_entries(a, "nope", &all, &n, NULL) == -ENOENT, "entries of an unknown name");

	is_int(artifacts_select(a, "socrates", h, &e, NULL), 0, "select socrates");
	ok(artifact_entry_lazy(e), "socrates is lazy");
	ok(artifact_entry_platform(e) == NULL, "socrates is platform independent");
	is_int(artifact_entry_downloads(e, &dl), 2, "socrates has 2 downloads");
	is_str(dl[0].url,
		"https://github.com/staticfloat/small_bin/raw/"
		"91f3ecf327d1de943fe076657833252791ba9f60/socrates.tar.gz",
		"download 1 url (file order)");
	is_str(dl[1].sha256, "13fc17b97be41763b02cbb80e9d048302cec3bd3d446c2ed6e8210bddcd3ac76",
		"download 2 sha256");
	is_int(dl[0].size, 0, "no size key");

	is_int(artifacts_select(a, "HelloWorldC", h, &e, NULL), 0, "select HelloWorldC");
	ok(!artifact_entry_lazy(e), "HelloWorldC is not lazy");
	is_str(artifact_entry_name(e), "HelloWorldC", "entry name");
	is_str(artifact_entry_string(e, "os"), "linux", "entry os key visible");
	is_str(platform_get(artifact_entry_platform(e), "libc"), "glibc", "entry platform");
	is_int(artifact_entry_json(e, &j, NULL), 0, "json of HelloWorldC");
	is_str(j, "{\"name\": \"HelloWorldC\", \"git-tree-sha1\": "
		  "\"93c882bd60afb35d7f3377233c72ca6792611913\", \"lazy\": false, \"triplet\": "
		  "\"x86_64-linux-gnu\", \"downloads\": [{\"url\": "
		  "\"https://github.com/JuliaBinaryWrappers/HelloWorldC_jll.jl/releases/download/"
		  "HelloWorldC-v1.1.3+0/HelloWorldC.v1.1.3.x86_64-linux-gnu.tar.gz\", \"sha256\": "
		  "\"e25082ab00cf5b2d1b7aa7e519d4727fa8900879039280909876eaffe7e98e40\"}]}",
		"json text");
	free(j);
	j = NULL;

	is_int(artifacts_select(a, "nope", h, &e, NULL), -ENOENT, "unknown name -> -ENOENT");

	/* §1.8: lazy socrates only with include_lazy */
	{
		const struct artifact_entry **v = NULL;

		is_int(artifacts_select_downloadable(a, h, false, &v, &n, NULL), 0, "downloadable");
		ok(n == 2 && strcmp(artifact_entry_name(v[0]), "HelloWorldC") == 0 &&
			   strcmp(artifact_entry_name(v[1]), "collapse_the_symlink") == 0,
			"downloadable: HelloWorldC, collapse_the_symlink");
		free(v);
		is_int(artifacts_select_downloadable(a, h, true, &v, &n, NULL), 0,
			"downloadable, include_lazy");
		is_int(n, 3, "include_lazy adds socrates");
		free(v);
	}
	artifacts_free(a);

	a = load("CUDA_Runtime_jll.toml");
	if (a) {
		const struct artifact_entry **v = NULL;

		artifacts_select_downloadable(a, h, false, &v, &n, NULL);
		is_int(n, 0, "CUDA_Runtime: all lazy, nothing eager");
		free(v);
		artifacts_select_downloadable(a, h, true, &v, &n, NULL);
		is_int(n, 1, "CUDA_Runtime: one with include_lazy");
		free(v);
		artifacts_free(a);
	}
	a = load("Pkg.jl-tests/test-packages_ArtifactOverrideLoading_Artifacts.toml");
	if (a) {
		const struct artifact_entry **v = NULL;

		artifacts_select_downloadable(a, h, true, &v, &n, NULL);
		is_int(n, 0, "OverrideLoading: no download keys, nothing downloadable");
		free(v);
		artifacts_free(a);
	}
	a = load("Pkg.jl-tests/artifacts-bad_no_gitsha.toml");
	if (a) {
		const struct artifact_entry **v = (const struct artifact_entry **)1;
		char *msg = NULL;

		is_int(artifacts_select_downloadable(a, h, true, &v, &n, &msg), -EINVAL,
			"downloadable fails on a broken name, as Julia's does");
		ok(v == (const struct artifact_entry **)1 && msg, "ret untouched, message set");
		free(msg);
		artifacts_free(a);
	}
	a = load("MozillaCACerts_jll.toml");
	if (a) {
		is_int(artifacts_select(a, "MozillaCACerts", h, &e, NULL), 0, "select table form");
		is_int(artifact_entry_json(e, &j, NULL), 0, "json of a table entry");
		ok(j && strstr(j, "\"triplet\": null"), "triplet null for platform independent");
		free(j);
		j = NULL;
		artifacts_free(a);
	}
	platform_free(h);
}

/* ---- synthetic files ------------------------------------------------------ */

/* Load text from tmpdir/name.toml; *msg gets the load error. */
static struct artifacts *load_text(const char *name, const char *text, char **msg)
{
	struct artifacts *a = NULL;
	char path[8192];

	snprintf(path, sizeof(path), "%s/%s.toml", tmpdir, name);
	if (tu_write_bytes(path, text, strlen(text)) < 0)
		return NULL;
	if (artifacts_load(path, &a, msg) < 0)
		a = NULL;
	unlink(path);
	return a;
}

#define HASH "43563e7631a7eafae1f9f8d9d332e3de44ad7239"
#define SHA "e65d2f13f2085f2c279830e863292312a72930fee5ba3c792b14c33ce5c5cc58"
#define UPPER                                                                      \
	"[x]\ngit-tree-sha1 = \"43563E7631A7EAFAE1F9F8D9D332E3DE44AD7239\"\n"     \
	"[[x.download]]\nurl = \"u\"\n"                                             \
	"sha256 = \"E65D2F13F2085F2C279830E863292312A72930FEE5BA3C792B14C33CE5C5CC58\"\n" \
	"size = 0\n"

static void test_errors(void)
{
	static const struct {
		const char *what, *text, *msg;	/* msg: NULL = resolves */
	} cases[] = {
		{ "missing os", "[[x]]\narch = \"x86_64\"\ngit-tree-sha1 = \"" HASH "\"\n",
		  "missing 'os' key" },
		{ "missing arch", "[[x]]\nos = \"linux\"\ngit-tree-sha1 = \"" HASH "\"\n",
		  "missing 'arch' key" },
		{ "os not a string",
		  "[[x]]\nos = 1\narch = \"x86_64\"\ngit-tree-sha1 = \"" HASH "\"\n",
		  "'os' key that is not a string" },
		{ "array element not a table", "x = [1, 2]\n", "malformed, must be a table" },
		{ "integer value", "x = 1\n", "malformed, must be array or dict" },
		{ "no git-tree-sha1 (table)", "[x]\nlazy = true\n", "contains no `git-tree-sha1`" },
		{ "no git-tree-sha1 (array)", "[[x]]\nos = \"linux\"\narch = \"x86_64\"\n",
		  "contains no `git-tree-sha1`" },
		{ "short hash",
		  "[x]\ngit-tree-sha1 = \"43563e7631a7eafae1f9f8d9d332e3de44ad723\"\n",
		  "invalid git-tree-sha1" },
		{ "non-hex hash",
		  "[x]\ngit-tree-sha1 = \"g3563e7631a7eafae1f9f8d9d332e3de44ad7239\"\n",
		  "invalid git-tree-sha1" },
		{ "hash not a string", "[x]\ngit-tree-sha1 = 5\n", "not a string" },
		{ "lazy not a bool", "[x]\ngit-tree-sha1 = \"" HASH "\"\nlazy = \"yes\"\n",
		  "not a boolean" },
		{ "download not an array", "[x]\ngit-tree-sha1 = \"" HASH "\"\n[x.download]\n"
		  "url = \"u\"\nsha256 = \"" SHA "\"\n", "not an array of tables" },
		{ "download element not a table", "[x]\ngit-tree-sha1 = \"" HASH "\"\n"
		  "download = [\"u\"]\n", "download 1 is of type string, not a table" },
		{ "download without url", "[x]\ngit-tree-sha1 = \"" HASH "\"\n[[x.download]]\n"
		  "sha256 = \"" SHA "\"\n", "download 1 has no 'url'" },
		{ "download without sha256", "[x]\ngit-tree-sha1 = \"" HASH "\"\n[[x.download]]\n"
		  "url = \"u\"\n", "download 1 has no 'sha256'" },
		{ "url not a string", "[x]\ngit-tree-sha1 = \"" HASH "\"\n[[x.download]]\n"
		  "url = 1\nsha256 = \"" SHA "\"\n", "'url' that is not a string" },
		{ "bad sha256", "[x]\ngit-tree-sha1 = \"" HASH "\"\n[[x.download]]\n"
		  "url = \"u\"\nsha256 = \"e65d\"\n", "invalid sha256" },
		{ "second download bad", "[x]\ngit-tree-sha1 = \"" HASH "\"\n[[x.download]]\n"
		  "url = \"u\"\nsha256 = \"" SHA "\"\n[[x.download]]\nurl = \"v\"\n",
		  "download 2 has no 'sha256'" },
		{ "negative size", "[x]\ngit-tree-sha1 = \"" HASH "\"\n[[x.download]]\n"
		  "url = \"u\"\nsha256 = \"" SHA "\"\nsize = -1\n", "'size'" },
		{ "string size", "[x]\ngit-tree-sha1 = \"" HASH "\"\n[[x.download]]\n"
		  "url = \"u\"\nsha256 = \"" SHA "\"\nsize = \"1\"\n", "'size'" },
		{ "forbidden character in a tag", "[[x]]\nos = \"linux\"\narch = \"x86_64\"\n"
		  "git-tree-sha1 = \"" HASH "\"\nhome = \"https://example.org\"\n",
		  "invalid platform tag" },
		{ "tag spelled ARCH", "[[x]]\nos = \"linux\"\narch = \"x86_64\"\n"
		  "git-tree-sha1 = \"" HASH "\"\nARCH = \"i686\"\n", "invalid platform tag" },
		{ "uppercase hex accepted", UPPER, NULL },
		{ "empty array", "x = []\n", "(no match)" },
	};
	struct platform *h = host(H1, false);
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct artifact_entry *e;
		struct artifacts *a;
		char *msg = NULL;
		int r;

		a = load_text("case", cases[i].text, &msg);
		ok(a != NULL, "%s: loads (errors wait for use)", cases[i].what);
		if (msg)
			diag("%s", msg);
		free(msg);
		msg = NULL;
		if (!a)
			continue;
		r = artifacts_select(a, "x", h, &e, &msg);
		if (!cases[i].msg) {
			is_int(r, 0, "%s: resolves", cases[i].what);
			is_str(r == 0 ? artifact_entry_hash(e) : NULL, HASH, "%s: lowercase hash",
				cases[i].what);
		} else if (strcmp(cases[i].msg, "(no match)") == 0) {
			is_int(r, -ENXIO, "%s: no match", cases[i].what);
		} else {
			is_int(r, -EINVAL, "%s: -EINVAL", cases[i].what);
			ok(msg && strstr(msg, cases[i].msg) && strstr(msg, "'x'") &&
				   strstr(msg, artifacts_path(a)),
				"%s: message \"%s\" names the file and artifact", cases[i].what,
				cases[i].msg);
			if (msg)
				diag("%s", msg);
		}
		free(msg);
		msg = NULL;
		r = artifacts_check(a, &msg);
		is_int(r, cases[i].msg && strcmp(cases[i].msg, "(no match)") ? -EINVAL : 0,
			"%s: strict check", cases[i].what);
		free(msg);
		artifacts_free(a);
	}

	/* the uppercase sha256 comes out lowercase */
	{
		const struct artifact_download *dl;
		const struct artifact_entry *e;
		struct artifacts *a = load_text("up", UPPER, NULL);

		if (a && artifacts_select(a, "x", h, &e, NULL) == 0 &&
		    artifact_entry_downloads(e, &dl) == 1)
			is_str(dl[0].sha256, SHA, "sha256 lowercased");
		else
			ok(0, "sha256 lowercased");
		artifacts_free(a);
	}
	platform_free(h);
}

static void test_semantics(void)
{
	struct platform *h = host(H1, false), *w = host(H5, false);
	const struct artifact_entry *e;
	struct artifacts *a;
	char *msg = NULL, *j = NULL;

	/* a broken entry fails only when selected (Julia checks the selected meta) */
	a = load_text("sel",
		"[[x]]\nos = \"linux\"\narch = \"x86_64\"\ngit-tree-sha1 = \"" HASH "\"\n"
		"[[x]]\nos = \"windows\"\narch = \"x86_64\"\n", NULL);
	is_str(resolve(a, "x", h), HASH, "good linux entry resolves next to a broken one");
	ok(strstr(resolve(a, "x", w), "contains no `git-tree-sha1`") != NULL,
		"broken windows entry fails when selected");
	is_int(a ? artifacts_check(a, NULL) : 0, -EINVAL, "strict check sees the broken entry");
	artifacts_free(a);

	/* duplicate platforms: the last one wins */
	a = load_text("dup",
		"[[x]]\nos = \"linux\"\narch = \"x86_64\"\ngit-tree-sha1 = \"" HASH "\"\n"
		"[[x]]\nos = \"Linux\"\narch = \"amd64\"\nlibc = \"glibc\"\n"
		"git-tree-sha1 = \"0000000000000000000000000000000000000001\"\n", NULL);
	is_str(resolve(a, "x", h), "0000000000000000000000000000000000000001",
		"identical platform (after normalisation): last wins");
	{
		const struct artifact_entry *const *all;
		size_t n = 0;

		ok(a && artifacts_entries(a, "x", &all, &n, NULL) == 0 && n == 1,
			"duplicate removed from the entry list");
	}
	artifacts_free(a);

	/* single table: os/arch ignored for selection, still visible */
	a = load_text("tbl",
		"[x]\nos = \"windows\"\narch = \"i686\"\ngit-tree-sha1 = \"" HASH "\"\n", NULL);
	is_int(a ? artifacts_select(a, "x", h, &e, NULL) : -1, 0,
		"table with os/arch ignores them");
	if (a && artifacts_select(a, "x", h, &e, NULL) == 0) {
		is_str(artifact_entry_string(e, "os"), "windows", "table os visible");
		is_str(artifact_entry_string(e, "arch"), "i686", "table arch visible");
		ok(artifact_entry_platform(e) == NULL, "table has no platform");
	}
	artifacts_free(a);

	/* only string values are tags; lazy and download never are */
	a = load_text("tags",
		"[[x]]\nos = \"linux\"\narch = \"x86_64\"\ngit-tree-sha1 = \"" HASH "\"\n"
		"lazy = true\nnum = 5\nflag = false\nSanitize = \"Memory\"\n"
		"[[x.download]]\nurl = \"https://example.org/a\\\"b\"\n"
		"sha256 = \"" SHA "\"\nsize = 1234\n",
		NULL);
	/* the entry's sanitize tag is missing on the host: a wildcard */
	is_str(resolve(a, "x", h), HASH, "sanitize entry matches a plain host");
	if (a) {
		const struct artifact_entry *const *all;
		const struct platform *p;
		size_t n;

		artifacts_entries(a, "x", &all, &n, NULL);
		p = artifact_entry_platform(all[0]);
		is_int(platform_ntags(p), 4, "tags: arch, os, libc (default), sanitize");
		is_str(platform_get(p, "sanitize"), "memory", "string tag lowercased");
		is_str(platform_get(p, "num"), NULL, "integer is not a tag");
		is_str(platform_get(p, "lazy"), NULL, "lazy is not a tag");
		is_str(platform_get(p, "git-tree-sha1"), NULL, "git-tree-sha1 is not a tag");
		ok(artifact_entry_json(all[0], &j, NULL) == 0 && j &&
			   strstr(j, "\"url\": \"https://example.org/a\\\"b\"") &&
			   strstr(j, "\"size\": 1234") && strstr(j, "\"lazy\": true") &&
			   strstr(j, "\"triplet\": \"x86_64-linux-gnu-sanitize+memory\""),
			"json: escaping, size, lazy, triplet");
		diag("%s", j ? j : "");
		free(j);
		j = NULL;
	}
	artifacts_free(a);

	/* seek_index (issue 16): a string URL per download; any other type ignored */
	a = load_text("seekidx",
		"[x]\ngit-tree-sha1 = \"" HASH "\"\n"
		"[[x.download]]\nurl = \"https://example.org/x.tar.gz\"\n"
		"sha256 = \"" SHA "\"\nseek_index = \"https://example.org/x.tar.gz.seekidx\"\n"
		"[[x.download]]\nurl = \"https://mirror.example.org/x.tar.gz\"\n"
		"sha256 = \"" SHA "\"\n"
		"[[x.download]]\nurl = \"https://m2.example.org/x.tar.gz\"\n"
		"sha256 = \"" SHA "\"\nseek_index = 5\n",
		NULL);
	if (a && artifacts_select(a, "x", h, &e, NULL) == 0) {
		const struct artifact_download *dl = NULL;

		is_int(artifact_entry_downloads(e, &dl), 3, "seek_index: 3 downloads");
		is_str(dl[0].seek_index, "https://example.org/x.tar.gz.seekidx",
			"seek_index of the first download");
		is_str(dl[1].seek_index, NULL, "no seek_index: NULL");
		is_str(dl[2].seek_index, NULL, "a seek_index that is not a string: ignored");
		ok(artifact_entry_json(e, &j, NULL) == 0 && j &&
			   strstr(j, "\"sha256\": \"" SHA "\", \"seek_index\": "
				     "\"https://example.org/x.tar.gz.seekidx\"}") &&
			   !strstr(strstr(j, "seek_index") + 1, "seek_index"),
			"json: seek_index only where present");
		free(j);
		j = NULL;
	} else {
		ok(0, "seek_index entry loads");
	}
	artifacts_free(a);

	/* JSON escaping of a name with a control character */
	a = load_text("esc", "[\"a\\\"b\\u0001\"]\ngit-tree-sha1 = \"" HASH "\"\n", NULL);
	if (a && artifacts_select(a, "a\"b\001", h, &e, NULL) == 0 &&
	    artifact_entry_json(e, &j, NULL) == 0)
		ok(strncmp(j, "{\"name\": \"a\\\"b\\u0001\"", 21) == 0, "json name escaped");
	else
		ok(0, "json name escaped");
	free(j);
	j = NULL;
	artifacts_free(a);

	/* TOML syntax errors pass through as file:line:column */
	a = load_text("syntax", "[x]\ngit-tree-sha1 = \"" HASH "\"\nlazy = tru\n", &msg);
	ok(a == NULL && msg && strstr(msg, "syntax.toml:3:"), "syntax error message has file:line");
	diag("%s", msg ? msg : "");
	free(msg);
	msg = NULL;
	artifacts_free(a);

	/* no file */
	{
		struct artifacts *b = (struct artifacts *)1;
		char path[8192];

		snprintf(path, sizeof(path), "%s/none.toml", tmpdir);
		is_int(artifacts_load(path, &b, &msg), -ENOENT, "missing file -> -ENOENT");
		ok(b == (struct artifacts *)1 && msg, "ret untouched, message set");
		free(msg);
		msg = NULL;
		is_int(artifacts_load(tmpdir, &b, &msg), -ENOENT, "dir without artifacts files");
		ok(msg && strstr(msg, "JuliaArtifacts.toml"), "message names the file names");
		free(msg);
		msg = NULL;
	}
	platform_free(h);
	platform_free(w);
}

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	FILE *f = fopen(from, "rb");
	size_t n;
	int r;

	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	r = tu_write_bytes(to, buf, n);
	return r;
}

/* §1.1: JuliaArtifacts.toml wins over Artifacts.toml in a directory. */
static void test_precedence(void)
{
	char dir[4200], from[8192], a_path[4300], j_path[4300], *msg = NULL;
	struct platform *h = host(H1, false);
	struct artifacts *a = NULL;

	snprintf(dir, sizeof(dir), "%s/julia_artifacts_test", tmpdir);
	mkdir(dir, 0700);
	snprintf(a_path, sizeof(a_path), "%s/Artifacts.toml", dir);
	snprintf(j_path, sizeof(j_path), "%s/JuliaArtifacts.toml", dir);
	snprintf(from, sizeof(from),
		"%s/Pkg.jl-tests/test-packages_ArtifactTOMLSearch_julia_artifacts_test_"
		"Artifacts.toml",
		fixdir);
	ok(copy_file(from, a_path) == 0, "copy Artifacts.toml (comment only)");
	snprintf(from, sizeof(from),
		"%s/Pkg.jl-tests/test-packages_ArtifactTOMLSearch_julia_artifacts_test_"
		"JuliaArtifacts.toml",
		fixdir);
	ok(copy_file(from, j_path) == 0, "copy JuliaArtifacts.toml");

	is_int(artifacts_load(dir, &a, &msg), 0, "load the directory");
	if (a) {
		is_str(artifacts_path(a), j_path, "JuliaArtifacts.toml is the file used");
		is_int(artifacts_count(a), 1, "one name from JuliaArtifacts.toml");
		is_str(resolve(a, "arty", h), HASH, "arty resolves");
		artifacts_free(a);
		a = NULL;
	}
	free(msg);
	msg = NULL;

	unlink(j_path);
	is_int(artifacts_load(dir, &a, &msg), 0, "load the directory without JuliaArtifacts.toml");
	if (a) {
		is_str(artifacts_path(a), a_path, "then Artifacts.toml is used");
		is_int(artifacts_count(a), 0, "the comment-only file has no names");
		is_int(artifacts_select(a, "arty", h, NULL, NULL), -ENOENT, "arty absent");
		artifacts_free(a);
	}
	free(msg);
	/* a file path is used as given, whatever its name */
	a = NULL;
	is_int(artifacts_load(a_path, &a, NULL), 0, "load Artifacts.toml by path");
	artifacts_free(a);
	unlink(a_path);
	rmdir(dir);
	platform_free(h);
}

int main(void)
{
	const char *shared = tap_shared_dir();
	const char *t = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/test-artifacts.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir)) {
		ok(0, "mkdtemp");
		return tap_done();
	}
	test_errors();
	test_semantics();
	if (!shared) {
		skip("../shared not found");
	} else {
		snprintf(fixdir, sizeof(fixdir), "%s/fixtures/artifacts-toml", shared);
		test_fixtures_load();
		test_selection();
		test_host_tags();
		test_model();
		test_precedence();
	}
	rmdir(tmpdir);
	return tap_done();
}
