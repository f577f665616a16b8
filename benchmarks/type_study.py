"""Forgetting rain and noise with the default recipe on the study pair's original, seeds 0-2, on the test photos.

    python benchmarks/type_study.py --out figures/study_types --jobs 2

Each row is `forgetting unlearn --forget TYPE --seed S` (the default recipe at its settings for the type,
`forgetting.unlearn.TYPE_SETTINGS`, chosen on the validation suite by `benchmarks/type_search.py`; beside them, noise at
the first rule's choice, lr 1e-3 with haze's distillation weight), scored on the bundled test suite with
`forgetting.report.forgetting_report`. There is no retrained model without rain or noise, so there is no forget gap: the
forget side is the restoration gain left on the forgotten tasks, with its 95% interval (0 dB: the degraded input passed
through, pass-through's optimum), beside the stop rule's verdict; the retain change is unlearned -
original on the retained tasks, paired per image. Compute is over retraining's cost from the retrained model's card (the
same training recipe). Finished rows are cached in --cache; writes `type_study.{json,md,png}` into --out.
"""
import argparse, copy, sys
from pathlib import Path
import torch
from option_search import ORIGINAL, RETRAINED, candidate_args, run_candidates, slug
from forgetting_study import forget_job as study_job, run_one as study_row

ROOT = Path(__file__).resolve().parents[1]
TYPES, SEEDS = ('rain', 'noise'), (0, 1, 2)
FIRST = 'noise, lr 0.001 distill 3'   # the first rule's choice for noise (the smallest rate that fires), kept beside
ROWS = {**{f'{t} seed {s}': (t, s, []) for t in TYPES for s in SEEDS},   # row -> (type, seed, options besides the default's)
        **{f'{FIRST} seed {s}': ('noise', s, ['--lr', '0.001', '--set', 'distill=3']) for s in SEEDS}}
def group(name:str) -> str: return name.rsplit(' seed ', 1)[0]


def study_args(kind:str, cache=None) -> argparse.Namespace:
    "The options `forgetting_study.py`'s row functions read, for the study pair's original forgetting `kind`."
    return argparse.Namespace(original=ORIGINAL, forget=kind, cache=cache)


def forget_job(kind:str):
    "The original, its forgotten and retained tasks, and the seed-0 forget set of the type (for relearning)."
    original, ft, rt, _, relearn_set = study_job(study_args(kind))
    return original, ft, rt, relearn_set


def run_one(name:str, cache:Path):
    "One row as `forgetting unlearn` runs it, with its relearning steps; cached (the study script's row runner)."
    kind, seed, extra = ROWS[name]
    study_row(study_args(kind, cache), name, ['--forget', kind, '--seed', str(seed), *extra])   # --forget again: the command names it


def gain_interval(results, tasks) -> dict:
    "The mean restoration gain on `tasks` with its bootstrap 95% interval (per-image gains against 0 dB)."
    from forgetting.evaluate import Results, paired_difference
    zero = Results({}, [dict(r, gain=0.0) for r in results.images])
    return paired_difference(results, zero, tasks, metric='gain')


def type_report(kind:str, cache:Path) -> dict:
    "The forgetting report of one type's rows, each with its forget gain interval and its stop; the seed summary."
    from forgetting.model import load_model
    from forgetting.data import bundled_suite
    from forgetting.evaluate import load_json
    from forgetting.report import forgetting_report, retrain_cost
    from forgetting.unlearn import TYPE_SETTINGS
    original, ft, rt, relearn_set = forget_job(kind)
    rows = {}
    for name, (t, *_) in ROWS.items():
        if t != kind: continue
        model, hist = copy.deepcopy(original.model), load_json(cache / f'{slug(name)}.json')
        model.load_state_dict(torch.load(cache / f'{slug(name)}.pt', weights_only=True))
        if group(name) == kind and (bad := {k: v for k, v in TYPE_SETTINGS[kind].items() if hist['config'][k] != v}):
            sys.exit(f'{name}: the cached row ran with other settings than TYPE_SETTINGS {bad}: remove it from --cache')
        rows[name] = (model.eval(), hist)
    rep = forgetting_report(original.model, None, rows, bundled_suite('test'), ft, relearn_set=relearn_set,
                            retrain=retrain_cost(load_model(ROOT / RETRAINED, None, 'cpu').card), progress=False)
    for name, (_, hist) in rows.items():
        rep['rows'][name].update(gain=gain_interval(rep['results'][name], ft), forgot=hist['forgot'], command=hist['command'],
                                 group=group(name), lr=hist['config']['lr'], distill=hist['config']['distill'])
    rep['rows']['original']['gain'] = gain_interval(rep['results']['original'], ft)
    rep['versus_first'] = versus_first(rep, rt)
    rep['seeds'] = {g: seeds_of([rep['rows'][n] | dict(name=n) for n in rows if group(n) == g]) for g in dict.fromkeys(map(group, rows))}
    return rep


def versus_first(rep:dict, tasks:list) -> dict:
    "Each default row against the first rule's row of the same seed on the retained tasks, paired per image ({} if none)."
    from forgetting.evaluate import paired_difference
    res, first = rep['results'], lambda n: f"{FIRST} seed {n.rsplit(' ', 1)[1]}"
    return {f'{n} - {first(n)}': paired_difference(res[n], res[first(n)], tasks) for n in res if group(n) in TYPES and first(n) in res}


def seeds_of(rows:list) -> dict:
    "Mean and spread of one group's rows over the seeds, how many met the stop rule and where they stopped."
    from forgetting.report import seed_summary
    return {**seed_summary(rows, keys=('forget_gain', 'retain_change', 'compute', 'seconds')), 'rows': [r['name'] for r in rows],
            'forgot': sum(bool(r['forgot']) for r in rows), 'stop_steps': [r['stop_step'] for r in rows]}


def markdown(reps:dict) -> str:
    from forgetting.report import report_markdown
    out = ['# Forgetting rain and noise: the default recipe on the study pair, seeds 0-2\n',
           'Test suite of the bundled split (16 images per task); intervals are bootstrap 95% intervals of per-image numbers. '
           'Forget gain: the restoration gain left on the forgotten tasks (0 dB: the degraded input passed through).\n',
           '| rows | lr, distill | stop rule met | stop steps | forget gain: mean (min - max) | forget gain per seed [95%] | '
           'retain change: mean ± std (min - max) | retain change per seed [95%] | compute % | relearn steps |', '|---|' + '---|' * 9]
    for kind, rep in reps.items():
        for g, s in rep['seeds'].items():
            rows, c, f = [rep['rows'][n] for n in s['rows']], s['retain_change'], s['forget_gain']
            ci = lambda d: f"{d['mean']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}]"
            out.append(f"| {g} | {rows[0]['lr']:g}, {rows[0]['distill']:g} | {s['forgot']}/{len(rows)} | {', '.join(map(str, s['stop_steps']))} | "
                       f"{f['mean']:+.2f} ({f['min']:+.2f} - {f['max']:+.2f}) | {'; '.join(ci(r['gain']) for r in rows)} | "
                       f"{c['mean']:+.2f} ± {c['std']:.2f} ({c['min']:+.2f} - {c['max']:+.2f}) | {'; '.join(ci(r['retain']) for r in rows)} | "
                       f"{100 * s['compute']['mean']:.1f} | {', '.join('none' if r['relearn_steps'] is None else str(r['relearn_steps']) for r in rows)} |")
    for kind, rep in reps.items():
        if rep['versus_first']: out.append(f'\nForgetting {kind}, the retained tasks against the first rule\'s row of the same seed [95%]: ' + '; '.join(
            f"{k}: {d['mean']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}]" for k, d in rep['versus_first'].items()) + '.')
    for kind, rep in reps.items(): out += [f'\n## Forgetting {kind}\n', report_markdown(rep)]
    return '\n'.join(out) + '\n'


def plot(reps:dict, path:Path):
    """One row per forgotten type: the restoration gain on the forgotten tasks (the original's, then each seed's), and
    each seed's change on the retained tasks against the original with its 95% interval (1.96 standard errors)."""
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt, numpy as np
    fig, axes = plt.subplots(len(reps), 2, figsize=(12, 3.6 * len(reps)), gridspec_kw=dict(width_ratios=(1, 1.3)))
    for (gain_ax, keep_ax), (kind, rep) in zip(axes, reps.items()):
        names = rep['seeds'][kind]['rows']   # the default's rows
        ft, rt, w = rep['forget_tasks'], rep['retain_tasks'], 0.8 / (len(names) + 1)
        for i, n in enumerate(['original', *names]):
            gain_ax.bar(np.arange(len(ft)) + i * w, [rep['rows'][n]['tasks'][t]['gain'] for t in ft], w, label=n, color=f'C{i}')
        gain_ax.axhline(0, c='k', lw=0.8); gain_ax.set_xticks(np.arange(len(ft)) + w * len(names) / 2, ft)
        gain_ax.set_ylabel('restoration gain (dB)'); gain_ax.set_title(f'forgetting {kind}: the forgotten tasks'); gain_ax.legend(fontsize=8)
        w = 0.8 / len(names)
        for i, n in enumerate(names):
            d = rep['rows'][n]['retain']['tasks']
            keep_ax.bar(np.arange(len(rt)) + i * w, [d[t]['mean'] for t in rt], w, yerr=[1.96 * d[t]['se'] for t in rt],
                        capsize=3, label=n, color=f'C{i + 1}')
        keep_ax.axhline(0, c='k', lw=0.8); keep_ax.set_xticks(np.arange(len(rt)) + w * (len(names) - 1) / 2, rt)
        keep_ax.set_ylabel('PSNR change vs original (dB)'); keep_ax.set_title(f'forgetting {kind}: the retained tasks (95% intervals)')
    fig.tight_layout()
    from forgetting.evaluate import atomic_write
    atomic_write(path, lambda q: fig.savefig(q, dpi=110, format='png'), True); plt.close(fig)


def main(argv=None):
    args = candidate_args(__doc__, 'figures/study_types', '/tmp/forgetting_type_study_cache', argv)
    if args.one: torch.set_num_threads(1); return run_one(args.one, Path(args.cache))
    run_candidates(list(ROWS), __file__, args)
    torch.set_num_threads(2)
    from forgetting.report import save_report
    reps, out = {t: type_report(t, Path(args.cache)) for t in TYPES}, Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    md = markdown(reps)
    save_report(dict(types=reps), out / 'type_study.json', overwrite=True, markdown=md)
    plot(reps, out / 'type_study.png'); print(md)


if __name__ == '__main__': main()
