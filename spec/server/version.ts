/**
 * The one MongoDB version the test server answers as, everywhere it is
 * reported (`buildInfo`, `serverStatus`, `hello`, `getParameter`), and the
 * release whose behaviour it follows: mongod 8.0.
 */
export const VERSION = '8.0.0';
export const VERSION_ARRAY = [8, 0, 0, 0];
/** The wire protocol version of MongoDB 8.0. */
export const MAX_WIRE_VERSION = 25;
export const FEATURE_COMPATIBILITY_VERSION = '8.0';
