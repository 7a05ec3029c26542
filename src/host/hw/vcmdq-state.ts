// Per-VCMDQ registers as flat typed arrays indexed by global VCMDQ number, so page0/page1
// accesses and the consumer allocate nothing. spec: linux §1.4, §1.5; qemu §2.3, §2.4.
// Reset: every VCMDQ register is 0 (QEMU's emulated reset, linux §1.8, qemu §2.7).

export interface VcmdqRegsState {
  readonly cons: readonly number[];
  readonly prod: readonly number[];
  readonly config: readonly number[];
  readonly gerror: readonly number[];
  readonly gerrorn: readonly number[];
  readonly baseLo: readonly number[];
  readonly baseHi: readonly number[];
  readonly consIndxBaseLo: readonly number[];
  readonly consIndxBaseHi: readonly number[];
  /** Where each queue's current error was reported (VINTF, LVCMDQ), -1 when unmapped. */
  readonly errVintf: readonly number[];
  readonly errLvcmdq: readonly number[];
}

export class VcmdqRegs {
  /** CONS: RD [19:0], ERR [30:24]. */
  readonly cons: Uint32Array;
  /** PROD: WR [19:0]. */
  readonly prod: Uint32Array;
  /** CONFIG: CMDQ_EN [0]. (STATUS lives in the EnableSet.) */
  readonly config: Uint32Array;
  readonly gerror: Uint32Array;
  readonly gerrorn: Uint32Array;
  /** BASE [31:0] (LOG2SIZE [4:0], ADDR [31:5]) and [63:32] (ADDR [47:32]). */
  readonly baseLo: Uint32Array;
  readonly baseHi: Uint32Array;
  readonly consIndxBaseLo: Uint32Array;
  readonly consIndxBaseHi: Uint32Array;
  readonly errVintf: Int16Array;
  readonly errLvcmdq: Int16Array;

  readonly size: number;

  constructor(size: number) {
    this.size = size;
    this.cons = new Uint32Array(size);
    this.prod = new Uint32Array(size);
    this.config = new Uint32Array(size);
    this.gerror = new Uint32Array(size);
    this.gerrorn = new Uint32Array(size);
    this.baseLo = new Uint32Array(size);
    this.baseHi = new Uint32Array(size);
    this.consIndxBaseLo = new Uint32Array(size);
    this.consIndxBaseHi = new Uint32Array(size);
    this.errVintf = new Int16Array(size).fill(-1);
    this.errLvcmdq = new Int16Array(size).fill(-1);
  }

  /** GERROR.CMDQ_ERR ≠ GERRORN.CMDQ_ERR: an unacknowledged error (SMMUv3 toggle). */
  errorActive(q: number): boolean {
    return ((this.gerror[q]! ^ this.gerrorn[q]!) & 1) !== 0;
  }

  reset(): void {
    for (const a of [
      this.cons,
      this.prod,
      this.config,
      this.gerror,
      this.gerrorn,
      this.baseLo,
      this.baseHi,
      this.consIndxBaseLo,
      this.consIndxBaseHi,
    ])
      a.fill(0);
    this.errVintf.fill(-1);
    this.errLvcmdq.fill(-1);
  }

  state(): VcmdqRegsState {
    return {
      cons: Array.from(this.cons),
      prod: Array.from(this.prod),
      config: Array.from(this.config),
      gerror: Array.from(this.gerror),
      gerrorn: Array.from(this.gerrorn),
      baseLo: Array.from(this.baseLo),
      baseHi: Array.from(this.baseHi),
      consIndxBaseLo: Array.from(this.consIndxBaseLo),
      consIndxBaseHi: Array.from(this.consIndxBaseHi),
      errVintf: Array.from(this.errVintf),
      errLvcmdq: Array.from(this.errLvcmdq),
    };
  }
}
