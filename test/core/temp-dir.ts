// A fresh directory per test, removed when the test ends (pass or fail).

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import type { TestContext } from 'node:test'

export function tempDir (t: TestContext): string {
  const dir = mkdtempSync(tmpdir() + '/peernet-test-')
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}
