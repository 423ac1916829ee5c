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
        const f16 = d.plans!.fp16 as { error?: string; stages: Record<string, string> };
        if (f16.error) {
          lines.push(`        --precision fp16: refused (${f16.error})`);
        } else {
          lines.push('        --precision fp16 would run:');
          for (const [stage, v] of Object.entries(f16.stages)) lines.push(`          ${stage.padEnd(17)} ${v}`);
        }
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
