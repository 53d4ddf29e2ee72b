/** `tec-hub add-device`: being built (issue 13). */
export function run(_args: string[]): Promise<number> {
  console.error("add-device: not built yet");
  return Promise.resolve(1);
}
