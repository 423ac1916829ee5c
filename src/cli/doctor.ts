/** `seed-vc doctor`: the devices found, what they can do, and the precision each stage would get. */
import type { Command } from 'commander';
import { ort } from '../node/backend.ts';
import { doctorReport } from '../node/doctor.ts';

export function registerDoctor(program: Command): void {
  program.command('doctor')
    .description('list execution devices and the precision each stage would run in, with reasons')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { json?: boolean }) => {
      const report = await doctorReport();
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
