/** The `seed-vc doctor` report as data: devices found here, their capabilities and per-stage precision plans. */
import { type PrecisionRequest, STAGES, resolvePrecision } from '../core/precision.ts';
import { ort } from './backend.ts';
import { probeDevices } from './devices.ts';

export async function doctorReport() {
  const probes = await probeDevices();
  return {
    node: process.version,
    onnxruntime: ort.env.versions,
    platform: `${process.platform}-${process.arch}`,
    devices: probes.map((p) => ({
      ...p,
      plans: p.capabilities ? Object.fromEntries((['auto', 'fp16', 'int8', 'fp32'] as PrecisionRequest[]).map((req) => {
        try {
          const plan = resolvePrecision(req, p.capabilities!);
          return [req, { mode: plan.mode, reason: plan.reason, stages: Object.fromEntries(STAGES.map((s) => [s, `${plan.stages[s].precision} (${plan.stages[s].reason})`])) }];
        } catch (e) {
          return [req, { error: (e as Error).message }];
        }
      })) : undefined,
    })),
  };
}
