// Imported by test/programs/untyped-constants.ts: an untyped constant exported from another module.
export const COUNT = 10;
