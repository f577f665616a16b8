"""Forgetting study: every unlearning method, option and baseline on one job (forget haze), each row a run of `forgetting unlearn`.

    python benchmarks/forgetting_study.py --out figures/study --jobs 2

Rows run apart (`--only`, into their own --out) come together with `--merge FOLDER ... --out FOLDER`: one report of
every row (the seed spreads and the targets recomputed, and the frontier figure).

Each row is a list of `forgetting unlearn` options, read as the command reads them (`forgetting.job.parse_job`) and run
by the command's own code (`forgetting.job.run_job`), so the command printed beside the row in the report repeats it exactly:

    forgetting unlearn --checkpoint data/checkpoints/promptir-tiny-original.pt --out unlearned.pt <options> --seed S

The main rows run on seeds 0, 1 and 2, the others on seed 0. Finished rows (model, history and relearning steps)
are cached in --cache, so a rerun (or `--report-only`) reports them without running them again; --jobs N runs rows
in N processes of one thread each. Writes into --out: `forgetting_report.{json,md}` (every row, the seed spreads,
the targets table, diagnostics), `forgetting_tasks.png`, `forgetting_grid.png`, `forgetting_frontier.png` and
`forgetting_changes.png` (per-image retain changes of the main rows) and `forgetting_why.png` (where the weights
moved and what each retained task lost, for GA only, the published recipe and the default with and without its distillation).
With `--erasure quick|full` every row (and the retrained models of `--references`, rows of their own) also gets the
relearning attack suite, the weight-noise and line probes and the 64-member audit's TPR at 1% and 10% FPR
(`forgetting.erasure`), the report its `relearn_reference` and erasure targets, and --out `erasure.png`.
The options of the default were chosen on a validation suite of the training photos (`benchmarks/option_search.py`),
never on these test photos.
"""
import argparse, copy, json, os, re, shlex, subprocess, sys, time
from pathlib import Path
import torch

SEEDS = (0, 1, 2)
ROOT = Path(__file__).resolve().parents[1]


def options_of(recipe:str, changes:dict|None=None) -> list[str]:
    "The `forgetting unlearn` options of a recipe with some fields changed."
    return ['--method', recipe] + [a for k, v in (changes or {}).items() for a in ('--set', f'{k}={json.dumps(v)}')]


def study_rows(blocks:dict|None=None):
    """Every (row, group, `forgetting unlearn` options, seeds) of the study: the library's recipe and ablation tables, retain-data rows,
    and with `blocks` (`model_blocks`) the default restricted to each block of the architecture."""
    import forgetting.variants  # noqa: F401  (its ablation rows join ABLATIONS)
    from forgetting.unlearn import ABLATIONS, DEFAULT_METHOD
    three = ('GA only', 'accurate -adv', 'pass-through-distill -min steps', 'pass-through-distill +relearn step',
             'pass-through-distill +perturb 0.3', 'pass-through-distill +midpoint 3',
             'pass-through-distill +midpoint 3, lr 3e-4')
    ablations = [(n, 'ablation', options_of(r, ch), SEEDS if n in three else (0,)) for n, (r, ch) in ABLATIONS.items()]
    retain = lambda recipe, f, extra=None: options_of(recipe, {**(extra or {}), 'retain_weight': 1.0}) + ['--retain-fraction', str(f)]
    fast4 = dict(batch_retain=4)
    return [('accurate (published)', 'published', options_of('accurate'), SEEDS),
            (DEFAULT_METHOD, 'ours: the default', options_of(DEFAULT_METHOD), SEEDS),
            ('accurate-fast', 'ours', options_of('accurate-fast'), SEEDS),
            ('accurate-proxy', 'ours', options_of('accurate-proxy'), (0,)),
            ('accurate-fast + distill', 'ours', options_of('accurate-fast', dict(distill=3.0)), (0,)),
            *ablations,
            *[(f'{DEFAULT_METHOD}, only {b}', 'architecture-aware', options_of(DEFAULT_METHOD, dict(update_only=ns)), (0,)) for b, ns in (blocks or {}).items()],
            ('relabel', 'baseline', options_of('relabel'), (0,)),
            ('task-negation', 'baseline', options_of('task-negation'), SEEDS),
            ('ssd', 'baseline', options_of('ssd'), SEEDS),
            ('relabel @0.25', 'retain data', retain('relabel', 0.25), SEEDS),
            ('neggrad+ @0.25', 'retain data', retain('neggrad+', 0.25), SEEDS),
            ('accurate-fast + retain descent @0.25', 'retain data', retain('accurate-fast', 0.25, fast4), (0,)),
            ('relabel @0.50', 'retain data', retain('relabel', 0.5), (0,)),
            ('neggrad+ @0.50', 'retain data', retain('neggrad+', 0.5), (0,)),
            ('accurate-fast + retain descent @0.50', 'retain data', retain('accurate-fast', 0.5, fast4), (0,))]


def runs(only=None, exact=False, blocks=None, seeds=None):
    """(row name, recipe, group, options, seed) of every run; `only`: ';'-separated substrings (`exact`: names) of recipes
    to keep; `seeds`: the seeds to keep (None: every recipe's own)."""
    keep = lambda r: not only or any((o == r) if exact else (o in r) for o in only.split(';'))
    return [(f'{r} seed {s}' if len(ss) > 1 else r, r, g, opts + ['--seed', str(s)], s)
            for r, g, opts, ss in study_rows(blocks) if keep(r) for s in ss if seeds is None or s in seeds]


def command(args, options) -> str:
    return 'forgetting unlearn ' + ' '.join(map(shlex.quote, ['--checkpoint', args.original, '--out', 'unlearned.pt', *options, '--quiet']))


def slug(name:str) -> str: return ''.join(c if c.isalnum() else '_' for c in name)


def forget_job(args):
    "The forgotten tasks, the original's layout and the seed-0 forget set (for relearning)."
    from forgetting.model import load_model
    from forgetting.job import Job, layout_of, forget_data
    from forgetting.data import forget_retain
    original = load_model(ROOT / args.original, None, 'cpu')
    ft, rt = forget_retain(args.forget, original.tasks)
    layout = layout_of(original)
    return original, ft, rt, layout, forget_data(Job(args.forget), ft, layout)


def run_one(args, name:str, options:list[str]):
    "One row, as `forgetting unlearn` runs it, with its relearning steps; cached in --cache."
    from forgetting.job import parse_job, run_job
    from forgetting.data import bundled_suite
    from forgetting.evaluate import atomic_write, save_json
    from forgetting.report import relearn_steps, row_gain
    from forgetting.evaluate import evaluate
    cache = Path(args.cache)
    original, ft, rt, layout, relearn_set = forget_job(args)
    new, hist, _, _ = run_job(original, parse_job(['--forget', args.forget, *options]), progress=False)
    forget_suite = bundled_suite('test', ft)
    target = row_gain(evaluate(original.model, forget_suite, progress=False), ft)
    hist['relearn_steps'] = relearn_steps(new, relearn_set, forget_suite, target)
    hist['command'] = command(args, options)
    atomic_write(cache / f'{slug(name)}.pt', lambda p: torch.save(new.state_dict(), p), True)
    save_json(hist, cache / f'{slug(name)}.json', True, default=str)
    print(f"{name:45s} {hist['stop_reason']:40s} {hist['seconds']:6.1f}s relearn {hist['relearn_steps']}", flush=True)


def run_workers(args, tasks:list):
    "Run (name, extra arguments) tasks as this script's worker processes, --jobs at a time, one thread each."
    queue, jobs = list(tasks), []
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    base = [sys.executable, __file__, '--original', args.original, '--retrained', args.retrained, '--forget', args.forget,
            '--cache', args.cache, '--references', *args.references]
    base += ['--erasure', args.erasure, '--erasure-steps', str(args.erasure_steps)] if args.erasure else []
    while queue or jobs:
        while queue and len(jobs) < args.jobs:
            n, extra = queue.pop(0)
            jobs.append((n, subprocess.Popen(base + extra, env=env)))
        time.sleep(2)
        for n, j in list(jobs):
            if j.poll() is not None:
                jobs.remove((n, j))
                if j.returncode: sys.exit(f"{n!r} failed with status {j.returncode}")


def run_missing(args, todo):
    "Run the rows not in the cache, in --jobs processes of one thread each."
    cache = Path(args.cache); cache.mkdir(parents=True, exist_ok=True)
    run_workers(args, [(n, ['--one', n, '--options', json.dumps(o)]) for n, _, _, o, _ in todo
                       if not (cache / f'{slug(n)}.json').exists()])


def plot_why(rep, path):
    "Why the default keeps the retained tasks: where each recipe moved the weights, and what each retained task lost."
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt, numpy as np
    ch, rows = rep['diagnostics']['group_changes'], rep['rows']
    names = list(ch)
    fig, (a, b) = plt.subplots(1, 2, figsize=(14, 4.2), gridspec_kw=dict(width_ratios=[1.6, 1]))
    groups = list(next(iter(ch.values())))
    w = 0.8 / len(names)
    for i, n in enumerate(names): a.bar(np.arange(len(groups)) + i * w, [ch[n][g] for g in groups], w, label=n)
    a.set_xticks(np.arange(len(groups)) + 0.4 - w / 2, groups, rotation=60, ha='right', fontsize=8); a.set_yscale('log')
    a.set_ylabel('relative weight change'); a.legend(fontsize=8); a.set_title('where the weights moved (seed 0)')
    tasks = rep['retain_tasks']
    for i, n in enumerate(names):
        r = rep['results'][n]; o = rep['results']['original']
        b.bar(np.arange(len(tasks)) + i * w, [r[t]['psnr'] - o[t]['psnr'] for t in tasks], w, label=n)
    b.axhline(0, color='k', lw=0.8); b.set_xticks(np.arange(len(tasks)) + 0.4 - w / 2, tasks); b.set_ylabel('PSNR change vs original (dB)')
    b.set_title('what each retained task lost (test suite)')
    fig.tight_layout()
    from forgetting.evaluate import atomic_write
    atomic_write(path, lambda q: fig.savefig(q, dpi=110, format='png'), True); plt.close(fig)


def seeds_markdown(rep) -> str:
    "Mean and spread over seeds of the recipes run on several seeds."
    lines = ['| recipe | seeds | forget gap: mean (min - max) | retain change: mean ± std (min - max) | compute %: mean | calibrated MIA: mean | relearn steps |',
             '|---|---|---|---|---|---|---|']
    for recipe, s in rep['seeds'].items():
        g, r, c = s['forget_gap'], s['retain_change'], s['compute']
        rows = [rep['rows'][n] for n in s['rows']]
        mia = sum(x['mia_calibrated']['auc'] for x in rows) / len(rows)
        relearn = ', '.join('none' if x.get('relearn_steps') is None else str(x['relearn_steps']) for x in rows)
        lines.append(f"| {recipe} | {g['n']} | {g['mean']:.2f} ({g['min']:.2f} - {g['max']:.2f}) | {r['mean']:+.2f} ± {r['std']:.2f} "
                     f"({r['min']:+.2f} - {r['max']:+.2f}) | {100 * c['mean']:.1f} | {mia:.3f} | {relearn} |")
    return '\n'.join(lines) + '\n'


def seed_spreads(rep) -> dict:
    "Recipe -> mean and spread of its rows, for every recipe the report holds on several seeds."
    from forgetting.report import seed_summary
    recipes = {}
    for name, row in rep['rows'].items():
        if 'recipe' in row: recipes.setdefault(row['recipe'], []).append(name)
    return {r: {**seed_summary([rep['rows'][n] for n in names]), 'rows': names} for r, names in recipes.items() if len(names) > 1}


def study_markdown(rep) -> str:
    "The study report as markdown: every row, the seed spreads, the targets and the diagnostics."
    from forgetting.report import report_markdown, targets_markdown
    setup, align = rep['setup'], rep['diagnostics']['gradient_alignment']
    images, tasks = len(rep['image_names']), list(dict.fromkeys(rep['image_tasks']))
    return (f"# Forgetting {', '.join(rep['forget_tasks'])}: every method on the study pair\n\nModels: `{setup['original']}` and `{setup['retrained']}` "
          f"({setup['layout']} layout). Each row is the `forgetting unlearn` command in its `command` entry of the JSON; the main recipes ran on seeds {list(SEEDS)}. "
          f"Test suite: {images} images ({images // len(tasks)} per task: 2 x 2 crops of 128 px of each test photo). "
          "Intervals are bootstrap 95% intervals of the paired per-image differences (crops of one photo are correlated, so they are optimistic).\n\n"
          + report_markdown(rep) + '\n## Seeds\n\n' + seeds_markdown(rep) + '\n## Targets\n\nCompute = image forward+backward passes of the run '
          '(adversarial examples, importance, checks included) over retraining\'s (steps x batch).\n\n' + targets_markdown(rep['targets'])
          + f"\nGradient alignment (cosine of L1 gradients at the original weights, {rep['forget_tasks'][0]} vs task): "
          + ', '.join(f'{k} {v:+.3f}' for k, v in align.items())
          + '. Forget-term gradient vs each task\'s L1 gradient (negative: a step on the forget term raises that task\'s loss): '
          + '; '.join(f'{k}: ' + ', '.join(f'{t} {v:+.3f}' for t, v in d.items()) for k, d in rep['diagnostics']['forget_term_alignment'].items()) + '\n\nLargest relative parameter changes: '
          + '; '.join(f"{k}: " + ', '.join(f'{n} {v:.3f}' for n, v in ch.items()) for k, ch in rep['diagnostics']['layer_changes'].items()) + '\n'
          + projection_markdown(rep['diagnostics'].get('projection')) + erasure_section(rep))


def erasure_section(rep) -> str:
    "The erasure table and targets of a report made with --erasure ('' without)."
    if 'erasure' not in rep: return ''
    from forgetting.erasure import erasure_markdown
    e = rep['erasure']
    met = '\n'.join(f"- {k}: " + ', '.join(f"{t} {'met' if v else 'missed'}" for t, v in m.items()) for k, m in e['targets'].items())
    return (f"\n## Erasure\n\nRelearning attack suite `{e['suite']}` ({e['max_steps']} steps each; the worst case is the fewest steps "
            f"to recover), weight-noise and line probes, and the calibrated audit on {e['members']} members and {e['nonmembers']} "
            f"non-members; references: {', '.join(e['references'])}.\n\n" + erasure_markdown(rep) + '\nErasure targets:\n\n' + met + '\n')


def projection_markdown(d) -> str:
    if d is None: return ''
    c, l1 = d['coverage'], d['retained_l1']
    return (f"\nGradient projection (`projection_check`): share of each gradient's norm at theta0 inside the span of the {d['directions']} "
            "retained-loss gradients: " + ', '.join(f'{k.replace("_", " ")} {v:.2f}' for k, v in c.items()) + '. Retained L1 of 40 steps of '
            'pass-through without the distillation: ' + '; '.join(f"{k}: " + ', '.join(f'{i.replace("_", " ")} {v:.4f}' for i, v in x.items()) for k, x in l1.items()) + '\n')


def frontier_points(rep) -> list:
    return [dict(name=k, group=r.get('group', k), forget_gap=r['forget_gap'], retain_change=r['retain_change'], retain_low=r['retain']['low'],
                 retain_high=r['retain']['high'], compute=r.get('compute'), relearn_steps=r.get('relearn_steps'))
            for k, r in rep['rows'].items() if not k.startswith('retrained')]


def unlearned_targets(rep) -> list:
    "The targets table of the unlearned rows (`targets_table`), without the rows of extra retrained models."
    from forgetting.report import targets_table
    return [t for t in targets_table(rep) if not t['model'].startswith('retrained (')]


def reference_models(args) -> dict:
    "Row name -> model of every retrained model given with --references (the reference spread)."
    from forgetting.model import load_model
    return {f'retrained ({Path(p).stem})': load_model(ROOT / p, None, 'cpu').model.eval() for p in args.references}


def row_model(args, name:str, original, retrained):
    "The model of one row: the original, a retrained model (--retrained, --references) or a cached unlearned row."
    if name in ('original', 'retrained'): return (original if name == 'original' else retrained).model
    if name.startswith('retrained ('): return reference_models(args)[name]
    m = copy.deepcopy(original.model); m.load_state_dict(torch.load(Path(args.cache) / f'{slug(name)}.pt', weights_only=True))
    return m.eval()


def erasure_cached(args, name:str) -> Path:
    "Where one row's erasure results are kept (per suite and step budget)."
    return Path(args.cache) / f'{slug(name)}.erasure-{args.erasure}-{args.erasure_steps}.json'


def erasure_setup(args, original, ft, rt, layout, relearn_set) -> dict:
    "`forgetting.erasure.erasure_rows`' arguments but the models: the suite, the attacks' data, the 64-member audit."
    from forgetting.erasure import relearn_pairs, ATTACK_SUITES, erasure_audit_sets
    from forgetting.data import bundled_suite
    members, nonmembers = erasure_audit_sets(ft, layout)
    return dict(original=original.model, suite=bundled_suite('test'), forget_tasks=ft, members=members, nonmembers=nonmembers,
                pairs=relearn_pairs(relearn_set, ft, rt, layout), attacks=ATTACK_SUITES[args.erasure], max_steps=args.erasure_steps)


def erasure_one(args, name:str):
    "One row's relearning suite, probes and audit (`forgetting.erasure.erasure_rows`), cached in --cache."
    from forgetting.erasure import erasure_rows
    from forgetting.model import load_model
    from forgetting.evaluate import save_json
    original, ft, rt, layout, relearn_set = forget_job(args)
    retrained = load_model(ROOT / args.retrained, None, 'cpu')
    models = {'retrained': retrained.model, name: row_model(args, name, original, retrained)}
    setup = erasure_setup(args, original, ft, rt, layout, relearn_set)
    for n, row in erasure_rows(models, names=[name], progress=False, **setup):
        save_json(row, erasure_cached(args, n), True)
    print(f"{name:45s} relearn worst {row['relearn_worst']}, noise rise {row['noise']['rise']:+.2f} dB", flush=True)


def erasure(args, rep, original, retrained, references, models, relearn_set, ft, rt, layout):
    """The relearning attack suite, the probes and the 64-member audit on every row (`forgetting.erasure.add_erasure`),
    each row in a worker process (--jobs at a time) and cached; the reference spread from the retrained models, and the
    erasure targets."""
    from forgetting.erasure import add_erasure, erasure_targets, plot_erasure
    from forgetting.evaluate import load_json
    every = {'original': original.model, 'retrained': retrained.model, **references, **{k: m for k, (m, _) in models.items()}}
    run_workers(args, [(k, ['--erasure-one', k]) for k in every if not erasure_cached(args, k).exists()])
    refs = ('retrained', *[k for k in every if k.startswith('retrained (')])
    setup = erasure_setup(args, original, ft, rt, layout, relearn_set)
    add_erasure(rep, every, references=refs, done={k: load_json(erasure_cached(args, k)) for k in every}, progress=False,
                **setup)
    rep['erasure'] = dict(suite=args.erasure, max_steps=args.erasure_steps, references=list(refs),
                          members=len(setup['members']), nonmembers=len(setup['nonmembers']), targets=erasure_targets(rep, refs))
    plot_erasure(rep, Path(args.out) / 'erasure.png')


def report(args, todo):
    "The forgetting report of every cached row, with the seed spreads, the targets table, diagnostics and figures."
    from forgetting.model import load_model
    from forgetting.data import bundled_split, bundled_suite
    from forgetting.evaluate import plot_results, atomic_write, load_json
    from forgetting.unlearn import DEFAULT_METHOD
    from forgetting.report import (forgetting_report, save_report, targets_table, membership_sets, retrain_cost,
                                   forgetting_grid, plot_frontier, plot_changes, gradient_alignment, forget_term_alignment,
                                   layer_changes, group_changes)
    from forgetting.variants import projection_check
    torch.set_num_threads(args.threads)
    out, cache = Path(args.out), Path(args.cache); out.mkdir(parents=True, exist_ok=True)
    original, ft, rt, layout, relearn_set = forget_job(args)
    retrained = load_model(ROOT / args.retrained, None, 'cpu')
    models = {name: (row_model(args, name, original, retrained), load_json(cache / f'{slug(name)}.json')) for name, *_ in todo}
    suite = bundled_suite('test')
    members, nonmembers = membership_sets(ft, layout)
    references = reference_models(args) if args.erasure else {}
    rows = {**models, **references}
    rep = forgetting_report(original.model, retrained.model, rows, suite, ft, members, nonmembers,
                            retrain=retrain_cost(retrained.card), relearn_set=relearn_set, progress=False)
    for name, recipe, group, options, seed in todo:
        rep['rows'][name].update(recipe=recipe, group=group, seed=seed, command=models[name][1]['command'])
    rep['seeds'], rep['targets'] = seed_spreads(rep), unlearned_targets(rep)
    if args.erasure: erasure(args, rep, original, retrained, references, models, relearn_set, ft, rt, layout)
    train_photos = bundled_split()[0]
    why = [k for k in ('GA only seed 0', 'accurate (published) seed 0', f'{DEFAULT_METHOD} -distill', f'{DEFAULT_METHOD} seed 0') if k in models]
    rep['diagnostics'] = dict(gradient_alignment=gradient_alignment(original.model, train_photos, ft[0], rt),
                              forget_term_alignment=forget_term_alignment(original.model, train_photos, ft[0], rt),
                              layer_changes={k: layer_changes(models[k][0], original.model) for k in why},
                              group_changes={k: group_changes(models[k][0], original.model) for k in why})
    if any('retain_directions' in ' '.join(o) for *_, o, _ in todo): rep['diagnostics']['projection'] = projection_check(original.model, relearn_set, rt, original.tasks)
    rep['setup'] = dict(original=args.original, retrained=args.retrained, layout=layout, suite="forgetting.data.bundled_suite('test')",
                        membership=f"forgetting.report.membership_sets({ft}, {layout!r})", relearn_set='the seed-0 forget set of `forgetting unlearn`')
    md = study_markdown(rep)
    save_report(rep, out / 'forgetting_report.json', overwrite=True, markdown=md)
    main = [n for n in (f'{DEFAULT_METHOD} seed 0', 'accurate (published) seed 0', 'accurate-fast seed 0', 'GA only seed 0', 'relabel @0.25 seed 0', 'neggrad+ @0.25 seed 0') if n in models]
    plot_results({k: rep['results'][k] for k in ['original', 'retrained', *main[:3]]}, metric='psnr', path=out / 'forgetting_tasks.png',
                 overwrite=True, title=f'Forgetting {args.forget}: per-task PSNR')
    grid = {'original': original.model, **{k: models[k][0] for k in main[:2]}, 'retrained': retrained.model}
    forgetting_grid(grid, suite, ft + ['rain', 'noise25'], out / 'forgetting_grid.png', overwrite=True)
    plot_frontier(frontier_points(rep), out / 'forgetting_frontier.png', overwrite=True)
    plot_changes(rep, main + ['retrained'], out / 'forgetting_changes.png', overwrite=True)
    if len(why) > 1: plot_why(rep, out / 'forgetting_why.png')
    print(md)


SHARED = ('forget_tasks', 'retain_tasks', 'retrain', 'image_names', 'image_tasks', 'setup')   # what reports must share to be merged


def merged(reports:dict) -> dict:
    """One report of the rows of several study reports of the same pair and suite (folder -> report JSON): rows compare
    image by image across them. The first report's diagnostics are kept; the seed spreads and the targets are recomputed."""
    from forgetting.report import targets_table
    (first, rep), *rest = reports.items()
    rep = copy.deepcopy(rep)
    for folder, other in rest:
        if bad := [k for k in SHARED if other[k] != rep[k]]: sys.exit(f"{folder}: its {bad[0]} differs from {first}'s: not the same study")
        for name, row in other['rows'].items():
            if name not in rep['rows']: rep['rows'][name] = row
            elif max(abs(a - b) for a, b in zip(rep['rows'][name]['images'], row['images'])) > 1e-3:   # thread counts move the last digits
                sys.exit(f"{folder}: row {name!r} differs from the one of an earlier folder by more than 1e-3 dB on some image")
    rep['seeds'], rep['targets'] = seed_spreads(rep), unlearned_targets(rep)
    return rep


def merge(args):
    "Write the merged report of --merge's folders into --out: JSON, markdown and the frontier figure."
    from forgetting.evaluate import load_json
    from forgetting.report import save_report, plot_frontier
    reports = {d: load_json(Path(d) / 'forgetting_report.json', 'study report') for d in args.merge}   # all read before anything is written
    rep, out = merged(reports), Path(args.out)
    if len(reports) > 1: rep['merged_from'] = list(args.merge)
    out.mkdir(parents=True, exist_ok=True)
    save_report(rep, out / 'forgetting_report.json', overwrite=True, markdown=study_markdown(rep))
    plot_frontier(frontier_points(rep), out / 'forgetting_frontier.png', overwrite=True)
    print(f"{len(rep['rows'])} rows from {len(reports)} reports -> {out}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--original', default='data/checkpoints/promptir-tiny-original.pt')
    p.add_argument('--retrained', default='data/checkpoints/promptir-tiny-retrained-nohaze.pt')
    p.add_argument('--forget', default='haze')
    p.add_argument('--out', default='figures/study')
    p.add_argument('--cache', default='/tmp/forgetting_study_cache', help='finished rows (model, history, relearning steps); reused')
    p.add_argument('--only', default=None, help="';'-separated substrings of recipe names to run and report")
    p.add_argument('--exact', action='store_true', help='--only names whole recipe names')
    p.add_argument('--seeds', type=int, nargs='+', default=None, help="the seeds to run of each recipe (default: each recipe's own)")
    p.add_argument('--jobs', type=int, default=2, help='rows run at once (one thread each)')
    p.add_argument('--threads', type=int, default=2, help='threads of the report process')
    p.add_argument('--report-only', action='store_true', help='report the cached rows only')
    p.add_argument('--merge', nargs='+', default=None, metavar='FOLDER',
                   help='merge the reports in these folders (same pair and suite) into --out, recomputing the seeds and targets; runs nothing')
    p.add_argument('--erasure', default=None, choices=['quick', 'full'],
                   help='add the relearning attack suite (forgetting.erasure.ATTACK_SUITES), the probes and the 64-member audit to every row')
    p.add_argument('--erasure-steps', type=int, default=200, help='step budget of each relearning attack')
    p.add_argument('--references', nargs='*', default=['data/checkpoints/promptir-tiny-retrained-nohaze-seed1.pt'],
                   help='more retrained models (the reference spread of --erasure); rows of their own')
    p.add_argument('--one', default=None, help=argparse.SUPPRESS)
    p.add_argument('--options', default=None, help=argparse.SUPPRESS)
    p.add_argument('--erasure-one', default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one: torch.set_num_threads(1); return run_one(args, args.one, json.loads(args.options))
    if args.erasure_one: torch.set_num_threads(1); return erasure_one(args, args.erasure_one)
    if args.merge: return merge(args)
    from forgetting.model import load_model
    from forgetting.model import model_blocks
    args.blocks = model_blocks(load_model(ROOT / args.original, None, 'cpu').model)
    todo = runs(args.only, args.exact, args.blocks, args.seeds)
    if not args.report_only: run_missing(args, todo)
    report(args, [r for r in todo if (Path(args.cache) / f'{slug(r[0])}.json').exists()])


if __name__ == '__main__': main()
