import type { INestApplicationContext } from '@nestjs/common';
import { ObanError } from '../errors';
import { Oban, type ObanInternals } from '../oban.service';
import { OBAN_INTERNALS } from '../oban.tokens';

/** A test's handle on nest-oban: the Nest app (or application context), or the injected `Oban`. */
export type ObanTarget = INestApplicationContext | Oban;

export function internalsOf(target: ObanTarget, where: string): ObanInternals {
  const oban = target instanceof Oban ? target : getOban(target, where);
  return oban[OBAN_INTERNALS]();
}

function getOban(target: unknown, where: string): Oban {
  if (typeof (target as INestApplicationContext)?.get !== 'function') {
    throw new ObanError(`${where}: expected a Nest application (or context) or the Oban service, got ${typeof target}`);
  }
  try {
    return (target as INestApplicationContext).get(Oban, { strict: false });
  } catch {
    throw new ObanError(`${where}: this Nest application has no Oban service; import ObanModule.forRoot() in it`);
  }
}
