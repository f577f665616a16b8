"""Forgetting study: every unlearning method and option on one job (forget haze), with the forgetting report.

    python benchmarks/forgetting_study.py proxy-train --tasks all --out /tmp/unlearn_proxy/original.pt
    python benchmarks/forgetting_study.py study --original data/checkpoints/promptir-tiny-original.pt \\
        --retrained data/checkpoints/promptir-tiny-retrained-nohaze.pt --out figures

`proxy-train` trains the small conv U-Net of the issue's calibration (for a quick study when the bundled
checkpoints are not there yet); `study` runs every method/option row and writes
`forgetting_report.{json,md}`, `forgetting_tasks.png`, `forgetting_grid.png`, `forgetting_frontier.png`.
"""
import argparse, copy, json, sys, time
from pathlib import Path
import torch, torch.nn as nn, torch.nn.functional as F

torch.set_num_threads(1)  # benchmark script on a shared 2-core machine: one thread per process is fastest


def block(cin, cout): return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(inplace=True))

class SmallUNet(nn.Module):
    "A 2-level residual conv U-Net (~0.26M parameters): the proxy model of the issue's calibration."
    def __init__(self, c:int=24):
        super().__init__()
        self.e1, self.e2, self.mid = block(3, c), block(c, 2 * c), block(2 * c, 4 * c)
        self.d2, self.d1 = block(4 * c, 2 * c), block(2 * c, c)
        self.u2, self.u1 = nn.ConvTranspose2d(4 * c, 2 * c, 2, 2), nn.ConvTranspose2d(2 * c, c, 2, 2)
        self.out = nn.Conv2d(c, 3, 3, padding=1)
    def forward(self, x):
        e1 = self.e1(x); e2 = self.e2(F.max_pool2d(e1, 2)); m = self.mid(F.max_pool2d(e2, 2))
        d2 = self.d2(torch.cat([self.u2(m), e2], 1)); d1 = self.d1(torch.cat([self.u1(d2), e1], 1))
        return x + self.out(d1)


def proxy_train(args):
    from forgetting.data import TASKS, bundled_split, bundled_suite
    from forgetting.train import train, TrainConfig
    from forgetting.evaluate import evaluate, atomic_write
    tasks = list(TASKS) if args.tasks == 'all' else args.tasks.split(',')
    torch.manual_seed(args.seed)
    model = SmallUNet(args.width)
    train_photos, _ = bundled_split()
    cfg = TrainConfig(steps=args.steps, batch_size=args.batch_size, patch_size=48, lr=1e-3, tasks=tasks, seed=args.seed, device='cpu')
    hist = train(model, train_photos, cfg, progress=False)
    res = evaluate(model, bundled_suite('test', size=128), progress=False)
    out = Path(args.out)
    atomic_write(out, lambda p: torch.save(model.state_dict(), p), True)
    card = dict(name=out.stem, model='SmallUNet', width=args.width, tasks=tasks, steps=args.steps, seconds=round(hist['seconds'], 1),
                metrics=res.metrics)
    atomic_write(out.with_suffix('.json'), lambda p: p.write_text(json.dumps(card, indent=1)), True)
    print(res.markdown(), hist['seconds'])


def load_pair(path):
    "A model and its card: bundled checkpoints through `forgetting.model`, proxy ones as `SmallUNet`."
    path = Path(path)
    card = json.loads(path.with_suffix('.json').read_text())
    state = torch.load(path, map_location='cpu', weights_only=True)
    if 'model_spec' in card or (isinstance(state, dict) and 'model_spec' in state):
        from forgetting.model import build_model  # benchmarks may use the model zoo; the library never does
        spec = card.get('model_spec') or state['model_spec']
        model = build_model(spec)
        model.load_state_dict(state['state_dict'] if 'state_dict' in state else state)
    else:
        model = SmallUNet(card.get('width', 24)); model.load_state_dict(state)
    return model.eval(), card


def gradient_alignment(model, photos, forget_task, tasks, patch=48, n=32):
    """Cosine between the L1-loss gradient on the forget task and on each other task (at the original weights):
    a large value means ascent on the forget task is also ascent on that task."""
    from forgetting.data import PatchDataset
    from forgetting.unlearn import as_pairs
    def grad(task):
        x, y, _ = as_pairs(PatchDataset(photos, [task], patch_size=patch, length=n, seed=3))
        model.zero_grad(set_to_none=True); F.l1_loss(model(x), y).backward()
        g = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]); model.zero_grad(set_to_none=True)
        return g
    gf = grad(forget_task)
    return {t: F.cosine_similarity(gf, grad(t), dim=0).item() for t in tasks}


def layer_changes(model, original, top=5):
    "The parameter tensors that moved most, relative to their size: where the unlearning went."
    ref = dict(original.named_parameters())
    ch = {k: ((p - ref[k]).norm() / (ref[k].norm() + 1e-12)).item() for k, p in model.named_parameters()}
    return dict(sorted(ch.items(), key=lambda kv: -kv[1])[:top])


def image_passes(hist:dict) -> float:
    "Machine-independent cost of one unlearning run, in image forward+backward passes (a forward = 1/3)."
    c, steps = hist['config'], len(hist['steps'])
    n_f, n_a = hist['n_forget'], hist['n_anchor']
    prep = 0.0
    if n_a: prep += n_a / max(c['n_adv'], 1) * c['n_adv'] * (c['adv_steps'] if c['adv_eps'] else 0) + n_a / 3  # PGD + labels
    if c['importance']: prep += n_f + (n_a / max(c['n_adv'], 1) if c['importance_mode'] == 'contrast' else 0)
    if c['saliency']: prep += n_f
    prep += c['adapt_steps'] * c['batch_forget']
    per_step = c['batch_forget'] + (c['batch_adv'] if n_a else 0) + (c['batch_retain'] if c['retain_weight'] else 0)
    evals = len(hist['evals']) * min(c['eval_size'], n_f) / 3
    return prep + steps * per_step + evals


def study_rows(retrained_gain:float, fractions):
    "Every (name, group, forget() keywords, retain fraction) row of the study."
    R = dict(adv_source='retain-synth')
    rows = [('accurate (published)', 'published', {}, 0),
            ('GA only', 'ablation', dict(method='neggrad'), 0),
            ('accurate -adv', 'ablation', dict(adversarial=False), 0),
            ('accurate -importance', 'ablation', dict(importance=False), 0),
            ('lambda 10', 'ablation', dict(lam=10.0), 0),
            ('adv eps 0', 'adversarial', dict(adv_eps=0.0), 0),
            ('adv eps 12', 'adversarial', dict(adv_eps=12.0), 0),
            ('adv target output', 'adversarial', dict(adv_target='output'), 0),
            ('adv from retain-synth', 'adversarial', R, 0),
            ('contrast importance', 'importance', dict(importance_mode='contrast', **R), 0),
            ('bounded ascent', 'forget term', dict(forget_loss='bounded'), 0),
            ('pass-through', 'forget term', dict(forget_loss='pass-through'), 0),
            ('stop at retrained gain', 'stop/lr', dict(stop_gain=retrained_gain), 0),
            ('lr 3e-5 cosine', 'stop/lr', dict(lr=3e-5, schedule='cosine'), 0),
            ('retain-synth + bounded', 'combined', dict(forget_loss='bounded', **R), 0),
            ('retain-synth + bounded + stop@retrained', 'combined', dict(forget_loss='bounded', stop_gain=retrained_gain, **R), 0),
            ('retain-synth + contrast + bounded + stop@retrained', 'combined',
             dict(forget_loss='bounded', importance_mode='contrast', stop_gain=retrained_gain, **R), 0),
            ('fast: retain-synth K1 no-PGD + bounded + stop@retrained', 'fast', dict(n_adv=1, adv_eps=0.0, forget_loss='bounded', stop_gain=retrained_gain, **R), 0),
            ('fast: as above, lr 3e-4', 'fast', dict(n_adv=1, adv_eps=0.0, forget_loss='bounded', stop_gain=retrained_gain, lr=3e-4, **R), 0),
            ('fast published: K1, 3 PGD steps, lr 3e-4', 'fast', dict(n_adv=1, adv_steps=3, lr=3e-4), 0),
            ('fast published: as above, batch 4+4', 'fast', dict(n_adv=1, adv_steps=3, lr=3e-4, batch_forget=4, batch_adv=4), 0),
            *[(f'fast published: as above, batch 4+4, seed {seed}', 'fast', dict(n_adv=1, adv_steps=3, lr=3e-4, batch_forget=4, batch_adv=4, seed=seed), 0)
              for seed in (1, 2)],
            ('accurate-synth (preset)', 'fast', dict(method='accurate-synth'), 0),
            ('accurate-synth lr 1e-4', 'fast', dict(method='accurate-synth', lr=1e-4), 0),
            ('accurate-synth lam 10', 'fast', dict(method='accurate-synth', lam=10.0), 0)]
    for f in fractions:
        tag = f'{f:.2f}'
        rows += [(f'finetune @{tag}', 'retain data', dict(method='finetune'), f),
                 (f'neggrad+ @{tag}', 'retain data', dict(method='neggrad+'), f),
                 (f'relabel @{tag}', 'retain data', dict(method='relabel', retain_weight=1.0), f),
                 (f'adapt-then-unlearn @{tag}', 'retain data', dict(method='adapt-then-unlearn'), f),
                 (f'accurate + retain anchors @{tag}', 'retain data', dict(adv_source='retain', forget_loss='bounded', stop_gain=retrained_gain), f),
                 (f'fast published + retain descent @{tag}', 'retain data',
                  dict(n_adv=1, adv_steps=3, lr=3e-4, batch_forget=4, batch_adv=4, batch_retain=4, retain_weight=1.0), f)]
    return rows


def limit_steps(row, steps_for:str|None):
    "`row` with the step limit of the first `'substring=steps'` entry of `steps_for` its name contains; the name says so."
    name, group, kw, frac = row
    for item in (steps_for or '').split(';'):
        if not item: continue
        sub, n = item.rsplit('=', 1)
        if sub in name: return (f'{name} ({int(n)} steps)', group, {**kw, 'steps': int(n)}, frac)
    return row


def study(args):
    from forgetting.data import TASKS, PatchDataset, bundled_split, bundled_suite, make_suite, forget_retain
    from forgetting.evaluate import evaluate, plot_results, atomic_write
    from forgetting.unlearn import (PRESETS, forget, forget_gain, as_pairs, card_seconds, forgetting_report, save_report,
                                    report_markdown, forgetting_grid, plot_frontier)
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    original, ocard = load_pair(args.original)
    retrained, rcard = load_pair(args.retrained)
    retrain_seconds = card_seconds(Path(args.retrained).with_suffix('.json'))
    trained = list(TASKS)
    forget_tasks, retain_tasks = forget_retain(args.forget, trained)
    train_photos, test_photos = bundled_split()
    forget_set = PatchDataset(train_photos, forget_tasks, patch_size=args.patch, length=args.n_forget, seed=1)
    xf, yf, _ = as_pairs(forget_set)
    retrained_gain = forget_gain(retrained, xf[:16], yf[:16])[0]
    print(f'forget {forget_tasks}; retrained model gain on the forget eval batch {retrained_gain:.2f} dB; retraining {retrain_seconds:.0f}s', flush=True)
    align = gradient_alignment(original, train_photos, forget_tasks[0], retain_tasks, args.patch)
    print('gradient alignment with', forget_tasks[0], {k: round(v, 3) for k, v in align.items()}, flush=True)
    fractions = [float(f) for f in args.fractions.split(',')] if args.fractions else []
    rows = [r for r in study_rows(retrained_gain, fractions) if not args.only or any(o in r[0] for o in args.only.split(';'))]
    rows = [limit_steps(r, args.steps_for) for r in rows]
    suite = bundled_suite('test', size=args.size)
    cache = Path(args.cache); cache.mkdir(parents=True, exist_ok=True)
    models, groups = {}, {}
    for name, group, kw, frac in rows:
        groups[name] = group
        slug = ''.join(c if c.isalnum() else '_' for c in name)
        if (cache / f'{slug}.json').exists():  # rows may be run by several processes; the report gathers them
            model = copy.deepcopy(original); model.load_state_dict(torch.load(cache / f'{slug}.pt', weights_only=True))
            models[name] = (model.eval(), json.loads((cache / f'{slug}.json').read_text())); continue
        if args.report_only: continue
        retain_set = None
        if frac:
            n = max(1, round(frac * len(train_photos)))
            retain_set = PatchDataset(train_photos[:n], retain_tasks, patch_size=args.patch, length=args.n_retain, seed=2)
        preset = PRESETS[kw.get('method', 'accurate')]  # the study's K and PGD steps never override a method's preset
        kw = {'steps': args.steps, **{k: v for k, v in dict(n_adv=args.k, adv_steps=args.adv_steps).items() if k not in preset}, **kw}
        t0 = time.perf_counter()
        model, hist = forget(original, forget_set, trained_tasks=trained, retain_set=retain_set, progress=False, **kw)
        r = evaluate(model, suite, progress=False)
        ft = sum(r[t]['psnr'] for t in forget_tasks) / len(forget_tasks)
        print(f"{name:50s} {hist['stop_reason']:40s} {hist['seconds']:6.1f}s  forget PSNR {ft:.2f}  " +
              ' '.join(f"{t} {r[t]['psnr']:.2f}" for t in retain_tasks), flush=True)
        models[name] = (model, hist)
        atomic_write(cache / f'{slug}.pt', lambda p: torch.save(model.state_dict(), p), True)
        atomic_write(cache / f'{slug}.json', lambda p: p.write_text(json.dumps(hist)), True)
    if args.no_report: return
    members = make_suite(train_photos, forget_tasks, size=args.size)
    nonmembers = make_suite(test_photos, forget_tasks, size=args.size)
    rep = forgetting_report(original, retrained, models, suite, forget_tasks, members, nonmembers, retrain_seconds, progress=False)
    rep['setup'] = dict(note=args.note, original=str(args.original), retrained=str(args.retrained), forget_set=f'{args.n_forget} {args.patch}px patches of training photos',
                        steps=args.steps, k=args.k, adv_steps=args.adv_steps, suite=f"bundled_suite('test', size={args.size})",
                        retrained_forget_gain=retrained_gain, groups=groups)
    rep['diagnostics'] = dict(gradient_alignment=align, layer_changes={k: layer_changes(m, original) for k, (m, _) in models.items()
                                                                       if k in ('accurate (published)', 'GA only', args.best)})
    for k in rep['rows']: rep['rows'][k]['group'] = groups.get(k, k)
    grid_models = {k: models[k][0] if k in models else m for k, m in (('original', original), ('accurate (published)', None),
                   (args.best, None), ('retrained', retrained)) if k in models or m is not None}
    train_passes = rcard['steps'] * rcard.get('batch_size', rcard.get('config', {}).get('batch_size', 8))
    for k, (m, h) in models.items(): rep['rows'][k]['compute_ratio'] = image_passes(h) / train_passes
    rep['setup']['retrain_image_passes'] = train_passes
    save_report(rep, out / 'forgetting_report.json', overwrite=True)
    orig = rep['rows']['original']['tasks']
    lines = ['', '## Targets (forget gap <= 1.0 dB, retain change >= -0.3 dB, cost <= 5% of retraining)', '',
             'Cost is judged on the compute column (image forward+backward passes of the unlearning run, including adversarial',
             'example generation, importance and forget-gain checks, over the passes of retraining = steps x batch): the',
             'machine-independent measure and the primary one here. Wall-clock times (one thread per process) depend on the',
             'machine and its load, for the unlearning runs and for the retraining time they are divided by (the note at the top',
             'says how they were measured).', '',
             '| model | group | forget gap | retain change | ' + ' | '.join(f'd {t}' for t in retain_tasks) +
             ' | compute % (image passes) | wall % | steps | targets met (gap / retain / compute) | meets all |',
             '|---|---|---|---|' + '---|' * len(retain_tasks) + '---|---|---|---|---|']
    for k, r in rep['rows'].items():
        if k in ('original', 'retrained'): continue
        met = (r['forget_gap'] <= 1.0, r['retain_change'] >= -0.3, r['compute_ratio'] <= 0.05)
        lines.append(f"| {k} | {r['group']} | {r['forget_gap']:.2f} | {r['retain_change']:+.2f} | " +
                     ' | '.join(f"{r['tasks'][t]['psnr'] - orig[t]['psnr']:+.2f}" for t in retain_tasks) +
                     f" | {100 * r['compute_ratio']:.1f} | {100 * r['time_ratio']:.1f} | {r.get('stop_step', '-')} | " +
                     ' / '.join('yes' if m else 'no' for m in met) + f" | {'yes' if all(met) else 'no'} |")
    lines += ['', f"Gradient alignment (cosine of L1 gradients at the original weights, {forget_tasks[0]} vs task): " +
              ', '.join(f'{k} {v:+.3f}' for k, v in align.items()), '',
              'Largest relative parameter changes: ' + '; '.join(f"{k}: " + ', '.join(f'{n} {v:.3f}' for n, v in ch.items())
                                                            for k, ch in rep['diagnostics']['layer_changes'].items()), '',
              'Image grid columns: input, ' + ', '.join(grid_models) + ', clean; rows: ' + ', '.join(forget_tasks + ['rain', 'noise25']) + '.']
    head = f"# Forgetting {args.forget}: every method on one job\n\n{args.note}\n\n" if args.note else f"# Forgetting {args.forget}: every method on one job\n\n"
    md = head + report_markdown(rep) + '\n'.join(lines) + '\n'
    atomic_write(out / 'forgetting_report.md', lambda p: p.write_text(md), True)
    pick = [k for k in ('original', 'retrained', 'accurate (published)', 'GA only', args.best) if k in rep['results']]
    plot_results({k: rep['results'][k] for k in pick}, metric='psnr', path=out / 'forgetting_tasks.png', overwrite=True,
                 title=f'Forgetting {args.forget}: per-task PSNR')
    forgetting_grid(grid_models, suite, forget_tasks + ['rain', 'noise25'], out / 'forgetting_grid.png', overwrite=True)
    pts = [dict(name=k, group=r['group'], forget_gap=r['forget_gap'], retain_change=r['retain_change']) for k, r in rep['rows'].items() if k != 'retrained']
    plot_frontier(pts, out / 'forgetting_frontier.png', overwrite=True)
    print(md)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='cmd', required=True)
    pt = sub.add_parser('proxy-train'); pt.add_argument('--tasks', default='all'); pt.add_argument('--steps', type=int, default=1500)
    pt.add_argument('--seed', type=int, default=0); pt.add_argument('--out', required=True)
    pt.add_argument('--width', type=int, default=16); pt.add_argument('--batch-size', type=int, default=8)
    st = sub.add_parser('study')
    st.add_argument('--original', default='data/checkpoints/promptir-tiny-original.pt')
    st.add_argument('--retrained', default='data/checkpoints/promptir-tiny-retrained-nohaze.pt')
    st.add_argument('--forget', default='haze'); st.add_argument('--out', default='figures')
    st.add_argument('--steps', type=int, default=300); st.add_argument('--k', type=int, default=4)
    st.add_argument('--adv-steps', type=int, default=10); st.add_argument('--patch', type=int, default=48)
    st.add_argument('--n-forget', type=int, default=32); st.add_argument('--n-retain', type=int, default=64)
    st.add_argument('--size', type=int, default=128); st.add_argument('--fractions', default='0.1,0.34')
    st.add_argument('--cache', default='/tmp/forgetting_study_cache', help='finished rows (model + history); reused')
    st.add_argument('--no-report', action='store_true', help='only run rows (e.g. one process per group)')
    st.add_argument('--report-only', action='store_true', help='only report the cached rows')
    st.add_argument('--note', default='', help='a line on the models used, at the top of the markdown report')
    st.add_argument('--only', default=None, help="';'-separated substrings of row names to run")
    st.add_argument('--steps-for', default=None, help="';'-separated 'substring=steps': a lower step limit for the rows whose name "
                    "contains substring (for a CPU budget); the row name gets ' (N steps)'")
    st.add_argument('--best', default='accurate-synth (preset)', help='row shown in the bars and grid')
    args = p.parse_args(argv)
    if args.cmd == 'proxy-train': proxy_train(args)
    else: study(args)


if __name__ == '__main__': main()
