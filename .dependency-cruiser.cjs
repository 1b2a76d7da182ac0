// The layer rules of docs/architecture.md: arrows point down (cli → controller → load/slo/stats/report → model/util).
const room = (name) => `^src/${name}/`;
const rooms = (...names) => `^src/(${names.join('|')})/`;

/** One rule per room: what it must never import. */
const forbid = (name, from, to, comment) => ({
  name,
  comment,
  severity: 'error',
  from: { path: from },
  to: { path: to },
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'A cycle makes two rooms one.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    forbid(
      'model-is-a-leaf',
      room('model'),
      rooms('cli', 'controller', 'load', 'slo', 'stats', 'report', 'profile', 'sim', 'util'),
      'model holds plain data types every room shares; it imports no room.',
    ),
    forbid(
      'util-is-a-leaf',
      room('util'),
      rooms('cli', 'controller', 'load', 'slo', 'stats', 'report', 'profile', 'sim'),
      'util holds helpers with no knowledge of the product.',
    ),
    forbid(
      'io-is-a-leaf',
      room('io'),
      rooms('cli', 'controller', 'load', 'slo', 'stats', 'report', 'profile', 'sim', 'model', 'util'),
      'io writes and reads files; it knows nothing of what is in them.',
    ),
    forbid(
      'load-knows-no-profile',
      room('load'),
      rooms('cli', 'controller', 'slo', 'stats', 'report', 'profile', 'sim'),
      'load runs what it is handed (a StagePlan, a TransportConfig): it never reads a Profile or judges.',
    ),
    forbid(
      'stats-is-pure',
      room('stats'),
      rooms('cli', 'controller', 'load', 'slo', 'report', 'profile', 'sim'),
      'stats computes numbers from records; it knows nothing of rules, profiles or I/O.',
    ),
    forbid(
      'slo-below-profile',
      room('slo'),
      rooms('cli', 'controller', 'load', 'report', 'profile', 'sim'),
      'slo parses and evaluates rules on summaries; the profile uses it, not the other way round.',
    ),
    forbid(
      'profile-below-controller',
      room('profile'),
      rooms('cli', 'controller', 'load', 'stats', 'report', 'sim'),
      'profile loads and validates; it runs nothing.',
    ),
    forbid(
      'report-never-imports-controller',
      room('report'),
      rooms('cli', 'controller', 'load', 'sim'),
      'report renders what the controller folded; the fold itself lives in the controller.',
    ),
    forbid('controller-below-cli', room('controller'), room('cli'), 'Only cli touches process (argv, exit codes).'),
    forbid(
      'sim-stands-alone',
      room('sim'),
      rooms('cli', 'controller', 'load', 'slo', 'stats', 'report', 'profile'),
      'The simulator is a separate program that happens to ship with the tool.',
    ),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(node_modules|test|bench|scripts)/' },
  },
};
