/**
 * The kernel translator of a dump, whichever the architecture: arm64 when VMCOREINFO carries
 * the arm64 exports (NUMBER(kimage_voffset) is written by arm64 alone), else x86_64.
 */
import { VmcoreError } from '../errors.js';
import type { Vmcoreinfo } from '../vmcoreinfo/parse.js';
import { arm64KernelTranslatorFromVmcoreinfo, type Arm64Layout } from './arm64-linux.js';
import type { Arm64Translator } from './arm64.js';
import type { ReadPhysU64 } from './walk.js';
import { kernelTranslatorFromVmcoreinfo, type KernelTranslatorOptions, type X86_64Translator } from './x86_64.js';

export type KernelArch = 'x86_64' | 'arm64';
export type Translator = X86_64Translator | Arm64Translator;

/** The translator and how it was set up. */
export interface AnyKernelTranslator {
  arch: KernelArch;
  translator: Translator;
  /** The VMCOREINFO key naming the top table. */
  topSymbol: string;
  /** x86_64 phys_base (0 on arm64). */
  physBase: bigint;
  physBaseSource: string;
  /** The arm64 layout, on arm64. */
  arm64?: Arm64Layout;
}

/** The architecture VMCOREINFO describes (`hint`: what the container says, e.g. ELF e_machine). */
export function archOfVmcoreinfo(vi: Vmcoreinfo, hint?: KernelArch): KernelArch {
  if (vi.has('NUMBER(kimage_voffset)')) return 'arm64';
  if (hint === 'arm64') {
    throw new VmcoreError('E_VMCOREINFO', 'the dump is an arm64 one but VMCOREINFO lacks NUMBER(kimage_voffset): swapper_pg_dir cannot be located', {
      key: 'NUMBER(kimage_voffset)',
    });
  }
  return 'x86_64';
}

/** Build the kernel translator for the architecture VMCOREINFO describes. */
export function kernelTranslator(
  vi: Vmcoreinfo,
  readPhysU64: ReadPhysU64,
  opts: KernelTranslatorOptions & { arch?: KernelArch } = {},
): AnyKernelTranslator {
  if (archOfVmcoreinfo(vi, opts.arch) === 'arm64') {
    const { translator, layout } = arm64KernelTranslatorFromVmcoreinfo(vi, readPhysU64);
    return { arch: 'arm64', translator, topSymbol: 'SYMBOL(swapper_pg_dir)', physBase: 0n, physBaseSource: 'not used on arm64', arm64: layout };
  }
  const x = kernelTranslatorFromVmcoreinfo(vi, readPhysU64, opts);
  return { arch: 'x86_64', ...x };
}
