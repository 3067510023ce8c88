/**
 * The CPU benchmark's allocation-heavy job: `rounds` times JSON.parse then
 * JSON.stringify of a ~1 MB document (10,000-odd small objects), the kind of
 * job whose speed depends on V8's young generation (README, Garbage
 * collection), so a worker-process flag that helps the SHA job shows its cost
 * here. The document is built once per process; every runner of the job
 * (the floor, nest-oban) runs this same function.
 */
let cached: string | undefined;

function jsonDocument(): string {
  if (cached) return cached;
  const items: unknown[] = [];
  for (let i = 0, size = 0; size < 1_000_000; i++) {
    const item = {
      id: i,
      name: `item-${i}`,
      tags: ['a', 'b', `t${i % 17}`],
      price: i * 1.25,
      active: i % 2 === 0,
      nested: { x: i, y: `y${i}`, z: [i, i + 1, i + 2] },
    };
    items.push(item);
    size += JSON.stringify(item).length + 1;
  }
  cached = JSON.stringify({ items });
  return cached;
}

/** A JSON job's arguments. */
export interface JsonArgs {
  key: number;
  rounds: number;
}

/** Returns the length of the last stringify, so the work cannot be optimised away. */
export function jsonJob(rounds: number, key: number): number {
  const doc = jsonDocument();
  let length = 0;
  for (let r = 0; r < rounds; r++) {
    const parsed = JSON.parse(doc) as { items: { id: number }[]; key?: number };
    parsed.key = key;
    length = JSON.stringify(parsed).length;
  }
  return length;
}
