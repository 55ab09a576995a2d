/**
 * The werift release every non-public member used in lib/werift was read
 * from. package.json pins werift to exactly this version; before moving the
 * pin, re-read each member named in this folder and run test/werift.
 */
export const WERIFT_VERSION = "0.25.2";
