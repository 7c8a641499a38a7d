import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { migrationsFolder } from "./bootstrap.ts";

let cached: number | null = null;

/** How many committed migrations this build ships (read once; files don't change at run time). */
export async function committedMigrationCount(): Promise<number> {
  if (cached === null) {
    const files = await readdir(join(migrationsFolder, "committed")).catch(() => []);
    cached = files.filter((f) => /^\d+.*\.sql$/.test(f)).length;
  }
  return cached;
}
