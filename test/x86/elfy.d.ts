// Contract: elfy ships no types; the tests read its parse result as untyped data.
declare module "elfy";
