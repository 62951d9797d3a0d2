// An interim app named "social" made of the private-message parts alone (src/apps/social/dm.ts),
// for the tests until the social app carries them. Not in BUILTIN_APPS.

import { defineApp } from '../../../src/networks/app.ts'
import { dmMigration, dmNodeCommands, dmNodeQueries, dmTypes, forgetDm } from '../../../src/apps/social/dm.ts'

export const dmTestApp = defineApp({
  name: 'social',
  types: { ...dmTypes },
  migrations: [dmMigration],
  forget: forgetDm,
  queries: {},
  commands: {},
  nodeCommands: { ...dmNodeCommands },
  nodeQueries: { ...dmNodeQueries }
})
