#!/usr/bin/env node
/*
 * s3server.js - an S3-compatible server on loopback for the publish tests:
 * s3rver 3.7.1 behind a small front that s3rver lacks.
 *
 *   node s3server.js --modules DIR --dir DATA --port-file FILE --log FILE
 *                    [--bucket NAME]... [--access-key K --secret-key S]
 *                    [--parent-pid PID]
 *
 * --modules     the node_modules directory holding s3rver (npm ci)
 * --dir         where s3rver keeps buckets and objects
 * --port-file   written (atomically) with the port once listening on
 *               127.0.0.1, port 0 (a free one)
 * --log         one line per request, appended before it is handled:
 *               "METHOD URL signed|anon"; the tests count PUTs with it
 *               (responses go to LOG.status: "METHOD URL STATUS")
 *
 * What the front adds to s3rver 3.7.1:
 *  - AWS SigV4 verification.  s3rver only checks that the access key
 *    exists (its lib/middleware/authentication.js: "Signature version 4
 *    calculation is unimplemented").  Here the canonical request is built
 *    the way S3 builds it (path segments and query decoded and re-encoded
 *    per RFC 3986, parameters sorted, signed headers, the payload hash from
 *    x-amz-content-sha256) and the signature compared; a mismatch is 403
 *    SignatureDoesNotMatch with the canonical request in the body, as S3
 *    answers.
 *  - Anonymous requests may only read (GET, HEAD): the bucket behaves as a
 *    public-read bucket, so a tarball can be downloaded by its plain URL.
 *  - AbortMultipartUpload (DELETE KEY?uploadId=ID), which s3rver answers
 *    with 405: the upload's parts are removed and 204 returned.
 *  - Fault injection: POST /_ctl/fault?method=PUT&match=partNumber%3D2&status=500&count=2
 *    makes the next COUNT requests whose method is METHOD and whose URL
 *    contains MATCH fail with STATUS (an S3 InternalError body).  POST
 *    /_ctl/reset drops pending faults.  /_ctl/... requests are not logged
 *    (bucket names cannot start with '_').
 *
 * s3rver makes ListObjectsV2 continuation tokens with DES, which node >= 17
 * (OpenSSL 3) offers only with --openssl-legacy-provider: without it a
 * truncated listing is a 500.  s3.sh passes the flag when node knows it.
 */
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');

function parseArgs(argv) {
  const o = { bucket: [], accessKey: 'S3RVER', secretKey: 'S3RVER' };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    switch (a) {
      case '--modules': o.modules = v; i++; break;
      case '--dir': o.dir = v; i++; break;
      case '--port-file': o.portFile = v; i++; break;
      case '--log': o.log = v; i++; break;
      case '--bucket': o.bucket.push(v); i++; break;
      case '--access-key': o.accessKey = v; i++; break;
      case '--secret-key': o.secretKey = v; i++; break;
      case '--parent-pid': o.parentPid = Number(v); i++; break;
      default:
        process.stderr.write(`s3server.js: unknown argument '${a}'\n`);
        process.exit(64);
    }
  }
  if (!o.modules || !o.dir || !o.portFile || !o.log) {
    process.stderr.write('s3server.js: --modules, --dir, --port-file and --log are required\n');
    process.exit(64);
  }
  return o;
}

const opts = parseArgs(process.argv);
const S3rver = require(path.join(opts.modules, 's3rver'));
const AWSAccount = require(path.join(opts.modules, 's3rver', 'lib', 'models', 'account'));

AWSAccount.DUMMY_ACCOUNT.createKeyPair(opts.accessKey, opts.secretKey);

function xmlEscape(s) {
  return String(s).replace(/[&<>"']/g, c => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;',
  })[c]);
}

function sendError(res, status, code, message, extra) {
  let body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>' + code +
    '</Code><Message>' + xmlEscape(message) + '</Message>';
  for (const [k, v] of Object.entries(extra || {}))
    body += `<${k}>${xmlEscape(v)}</${k}>`;
  body += '<RequestId>0</RequestId></Error>';
  res.writeHead(status, {
    'Content-Type': 'application/xml',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/* ---- SigV4 ----------------------------------------------------------------------- */

/* RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ */
function uriEncode(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g,
    c => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

function decode(s) {
  try {
    return decodeURIComponent(s);
  } catch (e) {
    return null;
  }
}

function canonicalRequest(req, signedHeaders, payloadHash) {
  const q = req.url.indexOf('?');
  const rawPath = q < 0 ? req.url : req.url.slice(0, q);
  const rawQuery = q < 0 ? '' : req.url.slice(q + 1);
  const segments = rawPath.split('/').map(decode);
  if (segments.some(s => s === null))
    return null;
  const canonUri = segments.map(uriEncode).join('/');
  const params = [];
  for (const part of rawQuery.split('&')) {
    if (part === '')
      continue;
    const eq = part.indexOf('=');
    const k = decode(eq < 0 ? part : part.slice(0, eq));
    const v = decode(eq < 0 ? '' : part.slice(eq + 1));
    if (k === null || v === null)
      return null;
    params.push([uriEncode(k), uriEncode(v)]);
  }
  params.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  const canonQuery = params.map(([k, v]) => `${k}=${v}`).join('&');
  const canonHeaders = signedHeaders.map(h => {
    const v = req.headers[h];
    const value = Array.isArray(v) ? v.join(',') : (v === undefined ? '' : String(v));
    return `${h}:${value.trim().replace(/\s+/g, ' ')}\n`;
  }).join('');
  return [req.method, canonUri, canonQuery, canonHeaders, signedHeaders.join(';'), payloadHash]
    .join('\n');
}

function hmac(key, data) {
  return crypto.createHmac('sha256', key).update(data, 'utf8').digest();
}

/* Returns null when the request is signed correctly, else [status, code, message, extra]. */
function verifySigV4(req) {
  const auth = req.headers['authorization'];
  const m = /^AWS4-HMAC-SHA256 Credential=([^,]+),\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})$/
    .exec(auth);
  if (!m)
    return [400, 'AuthorizationHeaderMalformed', 'The authorization header is malformed.'];
  const [keyId, date, region, service, term] = m[1].split('/');
  if (keyId !== opts.accessKey)
    return [403, 'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.'];
  if (!date || !region || service !== 's3' || term !== 'aws4_request')
    return [400, 'AuthorizationHeaderMalformed', 'The credential scope is malformed.'];
  const amzDate = req.headers['x-amz-date'];
  const payload = req.headers['x-amz-content-sha256'];
  if (!amzDate || !payload)
    return [400, 'InvalidRequest',
      'Missing required header for this request: x-amz-content-sha256 or x-amz-date'];
  if (!/^(UNSIGNED-PAYLOAD|[0-9a-f]{64})$/.test(payload))
    return [400, 'InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a sha256'];
  const signed = m[2].split(';');
  if (!signed.includes('host') || !signed.includes('x-amz-content-sha256') ||
      !signed.includes('x-amz-date'))
    return [403, 'AccessDenied',
      'host, x-amz-content-sha256 and x-amz-date must be signed'];
  if ((req.method === 'GET' || req.method === 'HEAD' || req.method === 'DELETE') &&
      payload !== crypto.createHash('sha256').update('').digest('hex') &&
      payload !== 'UNSIGNED-PAYLOAD')
    return [400, 'XAmzContentSHA256Mismatch',
      "The provided 'x-amz-content-sha256' header does not match what was computed."];
  const canon = canonicalRequest(req, signed, payload);
  if (canon === null)
    return [400, 'InvalidURI', 'Couldn\'t parse the specified URI.'];
  const scope = `${date}/${region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope,
    crypto.createHash('sha256').update(canon, 'utf8').digest('hex')].join('\n');
  let k = hmac('AWS4' + opts.secretKey, date);
  k = hmac(k, region);
  k = hmac(k, 's3');
  k = hmac(k, 'aws4_request');
  const sig = hmac(k, toSign).toString('hex');
  if (sig !== m[3])
    return [403, 'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. ' +
      'Check your key and signing method.', { CanonicalRequest: canon, StringToSign: toSign }];
  return null;
}

/* ---- the front ---------------------------------------------------------------------- */

let faults = [];

function control(req, res) {
  const u = new URL(req.url, 'http://localhost');
  if (req.method === 'POST' && u.pathname === '/_ctl/fault') {
    faults.push({
      method: u.searchParams.get('method') || 'PUT',
      match: u.searchParams.get('match') || '',
      status: Number(u.searchParams.get('status') || 500),
      count: Number(u.searchParams.get('count') || 1),
    });
  } else if (req.method === 'POST' && u.pathname === '/_ctl/reset') {
    faults = [];
  } else {
    res.writeHead(404, { 'Content-Length': 0 });
    res.end();
    return;
  }
  res.writeHead(204);
  res.end();
}

function takeFault(req) {
  for (const f of faults) {
    if (f.count > 0 && f.method === req.method && req.url.includes(f.match)) {
      f.count--;
      return f;
    }
  }
  return null;
}

/* Drain the body of a request we answer ourselves, then answer. */
function answer(req, fn) {
  req.on('error', () => {});
  req.resume();
  req.on('end', fn);
}

async function main() {
  fs.mkdirSync(opts.dir, { recursive: true });
  const s3 = new S3rver({
    directory: opts.dir,
    silent: true,
    configureBuckets: opts.bucket.map(name => ({ name })),
  });
  await s3.configureBuckets();
  const app = s3.callback();
  const statusLog = opts.log + '.status';

  const server = http.createServer((req, res) => {
    if (req.url.startsWith('/_ctl/'))
      return answer(req, () => control(req, res));
    const signed = 'authorization' in req.headers;
    /* logged before anything is answered, so a count read after the client
     * got its answer is never short */
    fs.appendFileSync(opts.log, `${req.method} ${req.url} ${signed ? 'signed' : 'anon'}\n`);
    res.on('finish', () => {
      fs.appendFileSync(statusLog, `${req.method} ${req.url} ${res.statusCode}\n`);
    });
    const fault = takeFault(req);
    if (fault)
      return answer(req, () => sendError(res, fault.status, 'InternalError',
        'We encountered an internal error. Please try again.'));
    if (!signed) {
      if (req.method !== 'GET' && req.method !== 'HEAD')
        return answer(req, () => sendError(res, 403, 'AccessDenied', 'Access Denied'));
    } else {
      const bad = verifySigV4(req);
      if (bad)
        return answer(req, () => sendError(res, ...bad));
    }
    const u = new URL(req.url, 'http://localhost');
    if (req.method === 'DELETE' && u.searchParams.has('uploadId')) {
      const id = u.searchParams.get('uploadId');
      const bucket = decode(u.pathname.split('/')[1] || '');
      if (!/^[0-9a-f]+$/.test(id) || !bucket)
        return answer(req, () => sendError(res, 404, 'NoSuchUpload',
          'The specified upload does not exist.'));
      const dir = path.join(s3.store.getResourcePath(bucket, undefined, 'uploads'), id);
      return answer(req, () => {
        if (!fs.existsSync(dir))
          return sendError(res, 404, 'NoSuchUpload', 'The specified upload does not exist.');
        fs.rmSync(dir, { recursive: true, force: true });
        res.writeHead(204);
        res.end();
      });
    }
    return app(req, res);
  });
  server.listen(0, '127.0.0.1', () => {
    const tmp = opts.portFile + '.tmp';
    fs.writeFileSync(tmp, String(server.address().port) + '\n');
    fs.renameSync(tmp, opts.portFile);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    if (server.closeAllConnections)
      server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (opts.parentPid) {
    setInterval(() => {
      try {
        process.kill(opts.parentPid, 0);
      } catch (e) {
        process.exit(0);
      }
    }, 1000).unref();
  }
}

main().catch(err => {
  process.stderr.write(`s3server.js: ${err.stack || err}\n`);
  process.exit(1);
});
