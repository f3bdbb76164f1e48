/*
 * aws_config.h - the S3 endpoint and region, resolved the way aws-cli
 * resolves them from the command line, the environment and the shared
 * config file (~/.aws/config)
 *
 * Endpoint, first found wins:
 *   1. the option (--endpoint-url, alias --endpoint)
 *   2. $AWS_ENDPOINT_URL_S3 (the service-specific variable)
 *   3. $AWS_ENDPOINT_URL
 *   4. endpoint_url of the s3 sub-section of the [services NAME] section
 *      that the profile names with "services = NAME"
 *   5. endpoint_url of an s3 sub-section of the profile itself
 *   6. endpoint_url of the profile
 * Steps 2 to 6 are skipped when $AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is
 * "true", or when the profile sets ignore_configured_endpoint_urls = true.
 *
 * Region: the option, $AWS_REGION, $AWS_DEFAULT_REGION, region of the
 * profile, else "auto" (what Cloudflare R2 expects).
 *
 * The profile: the option (--profile), $AWS_PROFILE, else "default".  The
 * file: $AWS_CONFIG_FILE, else $HOME/.aws/config; a missing file is no
 * error.  Sections are "[default]" and "[profile NAME]" (and "[profile
 * default]"), "[services NAME]"; a sub-section is a key with an empty value
 * followed by indented "key = value" lines:
 *
 *   [profile r2]
 *   region = auto
 *   s3 =
 *     endpoint_url = https://ACCOUNT.r2.cloudflarestorage.com
 *
 * Thread safety: reads the environment; no state of its own.
 */
#ifndef ARTIFACTCTL_AWS_CONFIG_H
#define ARTIFACTCTL_AWS_CONFIG_H

/* Largest config file read (bytes); a larger one is -E2BIG. */
#define AWS_CONFIG_MAX (1u << 20)

struct aws_s3_settings {
	char *endpoint;	    /* malloc'ed URL, or NULL: none configured */
	char *region;	    /* malloc'ed, never NULL after success */
	const char *source; /* where endpoint came from, for messages (static): "option",
			       "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "config", or NULL */
};

/*
 * aws_s3_settings_resolve - fill *ret as above.  endpoint, region and
 * profile are the options (NULL: not given), borrowed for the call.
 * @ret: released with aws_s3_settings_release(); untouched on failure.
 * @errmsg: receives on failure a malloc'ed message naming the file (caller
 *   frees), or NULL.
 * Returns 0, -E2BIG (config file larger than AWS_CONFIG_MAX), -errno when
 * an existing config file cannot be read, -ENOMEM.
 */
int aws_s3_settings_resolve(const char *endpoint, const char *region, const char *profile,
	struct aws_s3_settings *ret, char **errmsg);

/* aws_s3_settings_release - free the strings of s and zero it. */
void aws_s3_settings_release(struct aws_s3_settings *s);

#endif
