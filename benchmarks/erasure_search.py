"""Erasure screened on a validation suite under the relearning attack suite: never on the test photos.

    python benchmarks/erasure_search.py --out figures/erasure_search --jobs 2

`benchmarks/relearn_search.py` screened resistance with one probe (Adam 2e-4 on the forget set); on the test photos the
attack suite then recovered the midpoint term sooner under a larger learning rate and under hazy public photos. Here each
candidate (a list of `forgetting unlearn` options on the study pair, seed 0, run by the command's own code, or two
such jobs, the second on the model the first wrote) faces the
whole `quick` suite of `forgetting.erasure` (200 steps each, checked every 10; recovered: the haze gain within 1 dB of
the original's), scored on the validation suite of `benchmarks/option_search.py` (the 12 training photos, centre crops
of 128 px, degradation seed 1): forget gap and retain change paired per image (`forgetting.report.report_row`), compute,
the worst case over the suite, the haze gain at theta0 + (theta - theta0) / 2 and the distance to theta0. Both retrained
models face the same suite: they are the yardstick. The public attack tunes on training photos outside the haze pool,
which the validation suite also crops: on these photos that attack is stronger than on the test photos.
Finished candidates are cached in --cache; writes `erasure_search.{json,md,png}` into --out.
"""
import dataclasses, time
from pathlib import Path
import torch
from option_search import ORIGINAL, RETRAINED, candidate_args, run_candidates, slug, validation_suite
from relearn_search import PTD, _num, CANDIDATES as PROBED

ROOT = Path(__file__).resolve().parents[1]
RETRAINED_SEED1 = 'data/checkpoints/promptir-tiny-retrained-nohaze-seed1.pt'
LOCAL = PROBED['+local perturb, 130 steps, lr 0.001']   # the probe screen's localised perturbation, unchanged
def midpoint_options(w, at=None): return ['--set', f'midpoint={w}'] + ([] if at is None else ['--set', f'midpoint_at={at}'])
PERTURB = PROBED['+perturb 0.3, 130 steps, lr 0.001']   # the probe screen's perturbed start, unchanged
def after(first, then): return dict(first=first, then=then)   # two jobs: `then` runs on what `first` wrote, its f0 that model

CANDIDATES = {   # name -> `forgetting unlearn` options, or the checkpoint of a retrained model
    'retrained': RETRAINED,
    'retrained (seed 1)': RETRAINED_SEED1,
    'pass-through-distill (the default)': PTD,
    '+midpoint 3': PTD + midpoint_options(3),
    # more weight at the midpoint, or the point nearer theta0 (where the original's haze is stronger)
    '+midpoint 5': PTD + midpoint_options(5),
    '+midpoint 1 at 0.25': PTD + midpoint_options(1, 0.25),
    '+midpoint 3 at 0.25': PTD + midpoint_options(3, 0.25),
    # the midpoint term against the larger learning rate: the forget term also after a simulated Adam-like step
    '+midpoint 3, relearn step 2e-3': PTD + midpoint_options(3) + ['--set', 'relearn_step=0.002'],
    # further from theta0 within the compute target: a larger learning rate, or more steps
    '+midpoint 3, lr 3e-4': PTD + midpoint_options(3) + ['--lr', '3e-4'],
    '+midpoint 3, 180 steps': PTD + midpoint_options(3) + ['--steps', '180', '--set', 'stop_gain=null', '--set', 'eval_every=10'],
    # the haze-specific weights destroyed: a fresh initialisation of the 10% most haze-specific weights, then a repair
    '+local perturb, 130 steps, lr 0.001': LOCAL,
    '+local perturb, 130 steps, lr 0.001, midpoint 3': LOCAL + midpoint_options(3),
    # the larger learning rate alone, and larger still
    'lr 3e-4': PTD + ['--lr', '3e-4'],
    '+midpoint 3, lr 1e-3': PTD + midpoint_options(3) + ['--lr', '1e-3'],
    '+midpoint 1, lr 3e-4': PTD + midpoint_options(1) + ['--lr', '3e-4'],
    # noise then distil from the unlearned teacher (after UNDO, Lee et al. 2025): the default unlearns, then the perturbed
    # start (all weights, or the 10% most haze-specific) repairs toward that model, not the original; beside it the same
    # perturbed start from theta0, distilled from the original
    'the default, then +local perturb from it': after(PTD, LOCAL),
    'the default, then +perturb 0.3 from it': after(PTD, PERTURB),
    '+perturb 0.3, 130 steps, lr 0.001': PERTURB,
}
MAX_STEPS, EVERY = 200, 10
COMPUTE_LIMIT = 0.10   # the erasure targets' compute limit (a share of retraining's image passes)
RULE = ("of the candidates whose worst case is no shorter than both retrained models' and whose compute is within "
        f"{COMPUTE_LIMIT:.0%} of retraining, the one with the largest retain change")
CHOSEN_ROW = 'pass-through-distill +midpoint 3, lr 3e-4'   # its ablation row (`forgetting.variants.VARIANT_ABLATIONS`)


def chosen(rows:list) -> dict:
    "The candidate `RULE` keeps (its name, method and settings as `forgetting unlearn` reads them), and the names of those that qualify."
    from forgetting.job import parse_job
    refs = [r for r in rows if r['checkpoint']]
    ok = [r for r in rows if not r['checkpoint'] and r['worst'] >= max(x['worst'] for x in refs) and r['compute'] <= COMPUTE_LIMIT]
    if not ok: raise SystemExit(f'no candidate meets the rule: {RULE}')
    best = max(ok, key=lambda r: r['retain'])
    if 'first' in best: raise SystemExit(f"the rule keeps {best['name']!r}, two jobs: no single ablation row runs it")
    job = parse_job(best['options'])
    return dict(name=best['name'], method=job.method, settings=job.settings, qualified=[r['name'] for r in ok], row=CHOSEN_ROW)


def run_one(name:str, spec, cache:Path):
    "One candidate on the validation suite, under every attack of the quick suite; cached as JSON."
    from forgetting.job import Job, parse_job, run_job, layout_of, forget_data
    from forgetting.model import load_model
    from forgetting.data import bundled_suite, forget_retain
    from forgetting.evaluate import evaluate, save_json
    from forgetting.report import report_row, image_passes, retrain_cost, row_gain
    from forgetting.erasure import ATTACK_SUITES, relearn_pairs, relearn_suite, line_probe, weight_distance
    original, retrained = load_model(ROOT / ORIGINAL, None, 'cpu'), load_model(ROOT / RETRAINED, None, 'cpu')
    ft, rt = forget_retain('haze', original.tasks)
    suite, haze = validation_suite(), bundled_suite('train', ft, seed=1, grid=1)
    ro, rr = evaluate(original.model, suite, progress=False), evaluate(retrained.model, suite, progress=False)
    layout = layout_of(original)
    t0 = time.time()
    new, passes, steps, stop = None, 0.0, 0, None
    if isinstance(spec, str): new = load_model(ROOT / spec, None, 'cpu').model.eval()
    for options in [] if isinstance(spec, str) else [spec['first'], spec['then']] if isinstance(spec, dict) else [spec]:
        teacher = original if new is None else dataclasses.replace(original, model=new)
        new, hist = run_job(teacher, parse_job(options), progress=False)[:2]
        passes, steps, stop = passes + image_passes(hist), steps + len(hist['steps']), hist['stop_reason']
    secs = time.time() - t0
    res = evaluate(new, suite, progress=False)
    row = report_row(res, ro, rr, ft, rt)
    target = row_gain(evaluate(original.model, haze, progress=False), ft)
    pairs = relearn_pairs(forget_data(Job(), ft, layout), ft, rt, layout)
    rl = relearn_suite(new, pairs, haze, target, ATTACK_SUITES['quick'], MAX_STEPS, EVERY)
    two = isinstance(spec, dict)
    out = dict(name=name, options=spec['then'] if two else spec if isinstance(spec, list) else [],
               checkpoint=spec if isinstance(spec, str) else None, **(dict(first=spec['first']) if two else {}),
               forget_gap=row['forget_gap'], retain=row['retain_change'], retain_ci=[row['retain']['low'], row['retain']['high']],
               per_task={t: res[t]['psnr'] - ro[t]['psnr'] for t in rt}, worst=rl['worst'],
               attacks={a: c['recovered'] for a, c in rl['attacks'].items()}, target_gain=target,
               midpoint_gain=line_probe(original.model, new, haze, (0.5,))['0.5'], distance=weight_distance(new, original.model),
               compute=None if stop is None else passes / retrain_cost(retrained.card)['passes'],
               steps=None if stop is None else steps, stop=stop, seconds=secs)
    save_json(out, cache / f"{slug(name)}.json", True)


def _steps(v) -> str:
    "Steps to recover, as the tables write them."
    return f'none in {MAX_STEPS}' if v is None or v > MAX_STEPS else str(v)


def markdown(rows:list) -> str:
    "The screen as a markdown table: per-attack steps, the worst case and the paired validation scores."
    attacks = list(rows[0]['attacks'])
    lines = ['| candidate | worst | ' + ' | '.join(attacks) + ' | forget gap | retain change [95%] | rain | gain at the midpoint | '
             'distance | compute % | steps |', '|---' * (len(attacks) + 9) + '|']
    for r in rows:
        lines.append(f"| {r['name']} | {_steps(r['worst'])} | " + ' | '.join(_steps(r['attacks'][a]) for a in attacks)
                     + f" | {r['forget_gap']:.2f} | {r['retain']:+.2f} [{r['retain_ci'][0]:+.2f}, {r['retain_ci'][1]:+.2f}] | "
                     f"{r['per_task']['rain']:+.2f} | {r['midpoint_gain']:+.2f} | {r['distance']:.4f} | "
                     f"{_num(r['compute'] and 100 * r['compute'], '.1f')} | {_num(r['steps'], 'd')} |")
    return ('# Erasure on the validation suite\n\nTraining photos of the bundled split, centre crops of 128 px, degradation '
            f'seed 1; seed 0. Every attack of the quick suite, {MAX_STEPS} steps checked every {EVERY}: steps until the haze '
            "gain is within 1 dB of the original's; worst: the fewest. Never the test photos.\n\n" + '\n'.join(lines) + '\n')


def drawn_steps(r:dict) -> int:
    "A row's worst case as the figure draws it: not recovered within the budget drawn at MAX_STEPS + 10."
    return MAX_STEPS + 10 if r['worst'] > MAX_STEPS else r['worst']


def plot(rows:list, path:Path):
    "Worst-case relearning steps against the retain change, the retrained models' worst cases as the lines to reach."
    import matplotlib.pyplot as plt
    fig, (ax, far) = plt.subplots(1, 2, figsize=(16, 4.8), gridspec_kw=dict(width_ratios=(1.1, 1)))
    refs, seen, colours = [r for r in rows if r['checkpoint']], {}, plt.get_cmap('tab20').colors
    for n, r in enumerate(r for r in rows if not r['checkpoint']):
        y = drawn_steps(r)
        seen[y] = seen.get(y, -1) + 1                                   # rows at the same steps drawn apart
        ax.errorbar(r['retain'], y + 1.2 * seen[y], xerr=[[r['retain'] - r['retain_ci'][0]], [r['retain_ci'][1] - r['retain']]],
                    fmt='os^Dv'[n % 5], c=colours[n % 20], capsize=3, label=f"{r['name']} ({100 * r['compute']:.1f}% compute)")
    for r, ls in zip(refs, ('--', ':')):
        ax.axhline(drawn_steps(r), ls=ls, c='grey', label=f"{r['name']}: worst case")
    ax.axvline(-0.3, ls='-.', c='lightgrey', label='retain target (-0.3 dB)')
    ax.set_xlabel('retain change vs the original (dB, validation, 95% interval)')
    ax.set_ylabel(f'worst-case relearning steps ({MAX_STEPS + 10}: none in {MAX_STEPS})')
    ax.set_ylim(0, MAX_STEPS + 20); ax.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1))
    ys = [drawn_steps(r) for r in rows]
    dots = far.scatter([r['distance'] for r in rows], ys, c=[r['midpoint_gain'] for r in rows], cmap='viridis', s=40)
    fig.colorbar(dots, ax=far, label='haze gain at the midpoint to theta0 (dB)')
    named = ('retrained', 'retrained (seed 1)', 'pass-through-distill (the default)', '+midpoint 3', 'lr 3e-4', '+midpoint 3, lr 3e-4')
    for r, y in zip(rows, ys):
        if r['name'] in named: far.annotate(r['name'].replace(' (the default)', ''), (r['distance'], y), fontsize=7,
                                           xytext=(4, -10 if r['name'] == 'lr 3e-4' else 4), textcoords='offset points')
    far.set_xscale('log'); far.set_xlim(right=3); far.set_xlabel('distance to theta0 (||theta - theta0|| / ||theta0||)')
    far.set_ylabel('worst-case relearning steps'); far.set_ylim(0, MAX_STEPS + 20)
    far.set_title('why: far from theta0 and the haze gone halfway back', fontsize=9); fig.tight_layout()
    from forgetting.evaluate import atomic_write
    atomic_write(path, lambda p: fig.savefig(p, dpi=120, format='png'), True); plt.close(fig)


def main(argv=None):
    args = candidate_args(__doc__, 'figures/erasure_search', '/tmp/forgetting_erasure_search_cache', argv)
    if args.one: torch.set_num_threads(1); return run_one(args.one, CANDIDATES[args.one], Path(args.cache))
    rows = run_candidates(list(CANDIDATES), __file__, args)
    from forgetting.evaluate import save_json
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    pick = chosen(rows)
    import forgetting.variants  # noqa: F401  (its rows join ABLATIONS)
    from forgetting.unlearn import ABLATIONS
    if ABLATIONS[CHOSEN_ROW] != (pick['method'], pick['settings']):   # checked before anything is written
        raise SystemExit(f"the rule keeps {pick['name']!r}, not the ablation row {CHOSEN_ROW!r}: update the row or CHOSEN_ROW")
    save_json(dict(suite="forgetting.data.bundled_suite('train', seed=1, grid=1)", attacks='quick', max_steps=MAX_STEPS,
                   every=EVERY, compute_limit=COMPUTE_LIMIT, rule=RULE, chosen=pick, rows=rows), out / 'erasure_search.json', True)
    md = markdown(rows)
    (out / 'erasure_search.md').write_text(md); plot(rows, out / 'erasure_search.png'); print(md)


if __name__ == '__main__': main()
