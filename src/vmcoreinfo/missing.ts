/**
 * The one line every command gives for a dump without VMCOREINFO (a hypervisor dump whose guest
 * did not publish it). The CLI recognises the condition by the warning's prefix, as it does
 * `truncated` ones, and exits {@link EXIT.VMCOREINFO} after doing what can be done without it.
 */

/** How every no-VMCOREINFO warning and error begins. */
export const NO_VMCOREINFO = 'the dump has no VMCOREINFO';

/** What to do about it. */
export const NO_VMCOREINFO_HELP =
  'supply it with --vmcoreinfo FILE (the text `makedumpfile -g` writes); QEMU puts it in its dumps only with `-device vmcoreinfo` and the guest\'s qemu_fw_cfg module loaded';

/** `the dump has no VMCOREINFO: <consequence>; supply it …`. */
export function noVmcoreinfoMessage(consequence: string): string {
  return `${NO_VMCOREINFO}: ${consequence}; ${NO_VMCOREINFO_HELP}`;
}

/** Does this warning say the dump had no VMCOREINFO? */
export function isNoVmcoreinfoWarning(w: string): boolean {
  return w.startsWith(NO_VMCOREINFO + ':');
}

/** A warning list with the no-VMCOREINFO warning (if any) given its help text. */
export function explainNoVmcoreinfo(warnings: readonly string[]): string[] {
  return warnings.map((w) => (isNoVmcoreinfoWarning(w) ? `${w}; ${NO_VMCOREINFO_HELP}` : w));
}
