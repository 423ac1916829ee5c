/** `seed-vc doctor`: the devices found, what they can do, and the precision each stage would get. */
import type { Command } from 'commander';
import { type PrecisionRequest, STAGES, resolvePrecision } from '../core/precision.ts';
import { ort } from '../node/backend.ts';
import { probeDevices } from '../node/devices.ts';

export function registerDoctor(program: Command): void {
  program.command('doctor')
    .description('list execution devices and the precision each stage would run in, with reasons')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { json?: boolean }) => {
      const probes = await probeDevices();
      const report = {
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
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      const lines = [`seed-vc doctor: Node ${process.version}, onnxruntime-node ${ort.env.versions.node}, ${report.platform}`, ''];
      for (const d of report.devices) {
        lines.push(`${d.device.padEnd(7)} ${d.available ? 'available' : 'unavailable'}${d.capabilities?.name ? ` (${d.capabilities.name})` : ''}`);
        if (!d.available) { lines.push(`        ${d.error}`); continue; }
        if (d.capabilities?.cudaComputeCapability !== undefined) lines.push(`        compute capability ${d.capabilities.cudaComputeCapability}`);
        if (d.capabilities?.shaderF16 !== undefined) lines.push(`        shader-f16: ${d.capabilities.shaderF16 ? 'yes' : 'no'}`);
        const auto = d.plans!.auto as { mode: string; reason: string; stages: Record<string, string> };
        lines.push(`        precision auto -> ${auto.mode}: ${auto.reason}`);
        for (const [stage, v] of Object.entries(auto.stages)) lines.push(`          ${stage.padEnd(17)} ${v}`);
        if (d.capabilities?.int8Dot !== undefined) lines.push(`        int8 dot product: ${d.capabilities.int8Dot}`);
        for (const req of ['fp16', 'int8'] as const) {
          const plan = d.plans![req] as { error?: string; stages: Record<string, string> };
          if (plan.error) {
            lines.push(`        --precision ${req}: refused (${plan.error})`);
          } else {
            lines.push(`        --precision ${req} would run:`);
            for (const [stage, v] of Object.entries(plan.stages)) lines.push(`          ${stage.padEnd(17)} ${v}`);
          }
        }
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
