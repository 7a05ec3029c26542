// The layer rules of docs/architecture.md, enforced by `npm test` (npm run lint:deps).
// Each folder of src/ sits in one layer and may import only its own layer and those
// below it. No module-level cycles anywhere. Tests sit with their subject and obey the
// same rules.

/** Lowest first. Folders in one row are peers: they may import each other (no cycles). */
const LAYERS = [
  ["util", "bits"],
  ["regs", "smmu"],
  ["mem"],
  ["trace"],
  ["host"],
  ["vmm"],
  ["guest"],
  ["machine"],
  ["check"],
  ["sim"],
  ["report", "explore", "scenario", "qtest", "real-qemu", "differential"],
  ["real-guest"],
  ["cli"],
];

const folder = (names) => `^src/(${names.join("|")})/`;

const upward = LAYERS.slice(0, -1).map((row, i) => ({
  name: `no-upward-from-${row.join("-")}`,
  comment: `${row.join(", ")} may import only layers at or below it (docs/architecture.md).`,
  severity: "error",
  from: { path: folder(row) },
  to: { path: folder(LAYERS.slice(i + 1).flat()) },
}));

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "Module cycles make the layers meaningless and the load order fragile.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    ...upward,
    {
      name: "guest-is-not-the-host",
      comment:
        "The guest sees only the machine's address space: it may not reach into the VMM or the host.",
      severity: "error",
      from: { path: "^src/guest/" },
      to: { path: "^src/(vmm|host)/" },
    },
    {
      name: "index-is-the-top",
      comment: "src/index.ts is the package's public face; nothing inside imports it.",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^src/index\\.ts$" },
    },
    {
      name: "every-folder-has-a-layer",
      comment: "A new folder under src/ must be given a layer in .dependency-cruiser.cjs.",
      severity: "error",
      from: { path: "^src/", pathNot: `^src/index\\.ts$|${folder(LAYERS.flat())}` },
      to: {},
    },
  ],
  options: {
    parser: "swc",
    tsConfig: { fileName: "tsconfig.json" },
    doNotFollow: { path: "node_modules" },
    exclude: { path: "node_modules" },
  },
};
