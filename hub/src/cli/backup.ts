/** `tec-hub backup` / `tec-hub restore`: being built (issue 13). */
export function runBackup(_args: string[]): Promise<number> {
  console.error("backup: not built yet");
  return Promise.resolve(1);
}
export function runRestore(_args: string[]): Promise<number> {
  console.error("restore: not built yet");
  return Promise.resolve(1);
}
