"""Resistance to relearning, screened on a validation suite: never on the test photos (the simulated relearning step, shrink and
perturb, whole or localised, and the midpoint term).

    python benchmarks/relearn_search.py --out figures/relearn_search --jobs 2

Each candidate is a list of `forgetting unlearn` options, run by the command's own code on the study pair (seed 0). It
is scored on the validation suite of `benchmarks/option_search.py` (the 12 training photos of the bundled split, centre
crops of 128 px, degradation seed 1): forget gap and retain change, paired per image (`forgetting.report.report_row`),
and the relearning steps (`forgetting.report.relearn_steps` on the seed-0 forget set, checked every 2 steps up to 100,
until the validation haze gain is within 1 dB of the original's). The retrained model is the yardstick: an unlearned model
should take as long as it does. Finished candidates are cached in --cache; writes `relearn_search.{json,md,png}` into --out.
"""
import time
from pathlib import Path
import torch
from option_search import ORIGINAL, RETRAINED, candidate_args, run_candidates, slug, validation_suite

ROOT = Path(__file__).resolve().parents[1]
PTD = ['--method', 'pass-through-distill']
LONG = ['--steps', '300', '--set', 'stop_gain=null']
def _rs(v): return ['--set', f'relearn_step={v}']
def _pt(a): return ['--set', f'perturb={a}']

CANDIDATES = {   # name -> `forgetting unlearn` options (None: the retrained model itself)
    'retrained': None,
    'pass-through-distill (the default)': PTD,
    'default, 300 steps': PTD + LONG,
    '+relearn step 1e-3': PTD + _rs(0.001),
    '+relearn step 2e-3': PTD + _rs(0.002),
    '+relearn step 1e-2': PTD + _rs(0.01),
    '+relearn step 5e-4, 300 steps': PTD + _rs(0.0005) + LONG,
    '+relearn step 2e-3, 300 steps': PTD + _rs(0.002) + LONG,
    # shrink and perturb, then the default's terms distil: 130 steps is the compute target's budget, 600 steps shows the trend
    **{f'+perturb {a}, {n} steps': PTD + _pt(a) + ['--steps', str(n), '--set', 'stop_gain=null', '--set', 'eval_every=10']
       for a, n in ((0.1, 130), (0.3, 130), (0.3, 600), (0.6, 600), (0.2, 130))},
    # the repair within the budget: a larger learning rate
    **{f'+perturb {a}, 130 steps, lr {lr}': PTD + _pt(a) + ['--steps', '130', '--set', 'stop_gain=null', '--set', 'eval_every=10', '--lr', str(lr)]
       for a, lr in ((0.3, 3e-4), (0.3, 1e-3), (0.2, 3e-4), (0.3, 3e-3), (0.2, 1e-3), (0.4, 1e-3))},
    # localised: a fresh initialisation of the 10% most haze-specific weights, then the 130-step repair
    '+local perturb, 130 steps, lr 0.001': PTD + _pt(1.0) + ['--set', 'perturb_share=0.1', '--steps', '130', '--set', 'stop_gain=null',
                                                           '--set', 'eval_every=10', '--lr', '0.001'],
    # the forget term also at the midpoint between theta0 and theta, at two weights, within the default's stop rule
    **{f'+midpoint {w}': PTD + ['--set', f'midpoint={w}'] for w in (1, 2, 3)},
}
EVERY, MAX_STEPS = 2, 100   # relearning checks


def run_one(name:str, options:list|None, cache:Path):
    "One candidate, scored on the validation suite with its relearning steps; cached as JSON."
    from forgetting.job import Job, parse_job, run_job, layout_of, forget_data
    from forgetting.model import load_model
    from forgetting.data import bundled_suite, forget_retain
    from forgetting.evaluate import evaluate, save_json
    from forgetting.report import report_row, image_passes, retrain_cost, relearn_steps, row_gain
    original, retrained = load_model(ROOT / ORIGINAL, None, 'cpu'), load_model(ROOT / RETRAINED, None, 'cpu')
    ft, rt = forget_retain('haze', original.tasks)
    suite, haze = validation_suite(), bundled_suite('train', ft, seed=1, grid=1)
    ro, rr = evaluate(original.model, suite, progress=False), evaluate(retrained.model, suite, progress=False)
    relearn_set = forget_data(Job(), ft, layout_of(original))
    t0 = time.time()
    new, hist = (retrained.model, None) if options is None else run_job(original, parse_job(options), progress=False)[:2]
    secs = time.time() - t0
    res = evaluate(new, suite, progress=False)
    row = report_row(res, ro, rr, ft, rt)
    target = row_gain(evaluate(original.model, haze, progress=False), ft)
    out = dict(name=name, options=options or [], forget_gap=row['forget_gap'], retain=row['retain_change'],
               retain_ci=[row['retain']['low'], row['retain']['high']], per_task={t: res[t]['psnr'] - ro[t]['psnr'] for t in rt},
               relearn=relearn_steps(new, relearn_set, haze, target, every=EVERY, max_steps=MAX_STEPS), seconds=secs,
               compute=None if hist is None else image_passes(hist) / retrain_cost(retrained.card)['passes'],
               steps=None if hist is None else len(hist['steps']), stop=None if hist is None else hist['stop_reason'])
    save_json(out, cache / f'{slug(name)}.json', True)


def _num(v, spec): return '-' if v is None else format(v, spec)

def markdown(rows:list) -> str:
    lines = ['| candidate | relearn steps | forget gap | retain change [95%] | rain | compute % | steps |', '|---|---|---|---|---|---|---|']
    for r in rows:
        relearn = f'none in {MAX_STEPS}' if r['relearn'] is None else str(r['relearn'])
        lines.append(f"| {r['name']} | {relearn} | {r['forget_gap']:.2f} | {r['retain']:+.2f} [{r['retain_ci'][0]:+.2f}, {r['retain_ci'][1]:+.2f}] | "
                     f"{r['per_task']['rain']:+.2f} | {_num(r['compute'] and 100 * r['compute'], '.1f')} | {_num(r['steps'], 'd')} |")
    return ('# Resistance to relearning on the validation suite\n\nTraining photos of the bundled split, centre crops of 128 px, '
            f'degradation seed 1; seed 0. Relearning: fine-tuning steps on the forget set (checked every {EVERY}) until the '
            "haze gain is within 1 dB of the original's. Never the test photos.\n\n" + '\n'.join(lines) + '\n')


def plot(rows:list, path:Path):
    "Relearning steps against compute, the retrained model's steps as the line to reach; points numbered, named in a key."
    import matplotlib.pyplot as plt
    fig, (ax, key) = plt.subplots(1, 2, figsize=(10, 4.5), gridspec_kw=dict(width_ratios=(2.2, 1.3)))
    ref, shown = next(r for r in rows if r['options'] == []), [r for r in rows if r['compute'] is not None]
    for n, r in enumerate(shown, 1):
        kind, y = ' '.join(r['options']), MAX_STEPS * 1.1 if r['relearn'] is None else r['relearn']   # not relearnt: above the budget
        ax.scatter(100 * r['compute'], y, c='C1' if 'relearn_step' in kind else 'C2' if 'perturb' in kind else 'C3' if 'midpoint' in kind else 'C0', marker='^' if r['relearn'] is None else 'o')
        ax.annotate(str(n), (100 * r['compute'], y), fontsize=8, xytext=(4, 3), textcoords='offset points')
    ax.axhline(MAX_STEPS if ref['relearn'] is None else ref['relearn'], ls='--', c='grey', label='the retrained model')
    ax.axvline(5, ls=':', c='grey', label='compute target (5% of retraining)')
    ax.set_xlabel('compute, % of retraining (image passes)'); ax.set_ylabel(f'relearning steps (triangles: not within {MAX_STEPS})')
    ax.set_ylim(0, MAX_STEPS * 1.2); ax.legend(fontsize=8, loc='upper left')
    key.axis('off')
    key.text(0, 1, '\n'.join(f"{n:>2}. {r['name']} (retain {r['retain']:+.2f} dB)" for n, r in enumerate(shown, 1)), va='top', fontsize=8, transform=key.transAxes)
    fig.tight_layout()
    from forgetting.evaluate import atomic_write
    atomic_write(path, lambda p: fig.savefig(p, dpi=120, format='png'), True); plt.close(fig)


def main(argv=None):
    args = candidate_args(__doc__, 'figures/relearn_search', '/tmp/forgetting_relearn_cache', argv)
    if args.one: torch.set_num_threads(1); return run_one(args.one, CANDIDATES[args.one], Path(args.cache))
    rows = run_candidates(list(CANDIDATES), __file__, args)
    from forgetting.evaluate import save_json
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    save_json(dict(suite="forgetting.data.bundled_suite('train', seed=1, grid=1)", every=EVERY, max_steps=MAX_STEPS, rows=rows), out / 'relearn_search.json', True)
    (out / 'relearn_search.md').write_text(markdown(rows)); plot(rows, out / 'relearn_search.png'); print(markdown(rows))


if __name__ == '__main__': main()
