/**
 * A connection string safe to print: the password in its user info and the
 * values of secret-bearing options (`authMechanismProperties`, which can
 * carry an AWS session token, and any `…password…`/`…token…` option) are
 * replaced by `****`. When in doubt it hides more: everything before the
 * last `@` ahead of the query counts as user info.
 *
 * @example
 * ```ts
 * redactConnectionString('mongodb://app:s3cret@db1,db2/shop?authSource=admin');
 * // 'mongodb://app:****@db1,db2/shop?authSource=admin'
 * ```
 */
export function redactConnectionString(uri: string): string {
  const queryAt = uri.indexOf('?');
  const base = queryAt < 0 ? uri : uri.slice(0, queryAt);
  const query = queryAt < 0 ? '' : uri.slice(queryAt + 1);
  const schemeEnd = base.indexOf('://');
  const authorityStart = schemeEnd < 0 ? 0 : schemeEnd + 3;
  const at = base.lastIndexOf('@');
  let redacted = base;
  if (at >= authorityStart) {
    const userInfo = base.slice(authorityStart, at);
    const colon = userInfo.indexOf(':');
    const user = colon < 0 ? userInfo : `${userInfo.slice(0, colon)}:${MASK}`;
    redacted = `${base.slice(0, authorityStart)}${user}${base.slice(at)}`;
  }
  if (queryAt < 0) return redacted;
  const options = query.split('&').map((pair) => {
    const eq = pair.indexOf('=');
    return eq >= 0 && SECRET_OPTION.test(pair.slice(0, eq)) ? `${pair.slice(0, eq)}=${MASK}` : pair;
  });
  return `${redacted}?${options.join('&')}`;
}

const MASK = '****';
const SECRET_OPTION = /password|token|secret|authmechanismproperties/i;
