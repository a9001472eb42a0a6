/** The command table: every command the test server answers, by name and alias. */
import { ADMIN_COMMANDS } from './admin';
import { CRUD_COMMANDS } from './crud';
import { DDL_COMMANDS } from './ddl';
import { HELLO_COMMANDS } from './hello';
import type { CommandSpec } from './types';

const ALL: CommandSpec[] = [...HELLO_COMMANDS, ...ADMIN_COMMANDS, ...CRUD_COMMANDS, ...DDL_COMMANDS];

export const COMMANDS = new Map<string, CommandSpec>();
for (const spec of ALL) {
  for (const name of [spec.name, ...(spec.aliases ?? [])]) {
    if (COMMANDS.has(name)) throw new Error(`command '${name}' registered twice`);
    COMMANDS.set(name, spec);
  }
}
