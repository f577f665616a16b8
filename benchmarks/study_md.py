"""Write STUDY.md, the study's results, from the committed JSON: every number in it is formatted here from a file.

    python benchmarks/study_md.py            # writes STUDY.md (a temporary file, then os.replace)
    python benchmarks/study_md.py --check    # exit 1 when STUDY.md differs from what this script would write

It reads the reports under figures/ (study*, option_search, relearn_search, robust_finetune, robustness.json,
model_benchmark.json, demo) and the cards in data/checkpoints/, and the `remade by` column of figures/README.md for the
commands; it runs no model and needs only numpy (the paired bootstrap of `forgetting.evaluate.paired_difference`,
reimplemented on the per-image PSNR the reports hold, and checked to give back their own intervals).

The prose below states no measured number of its own. The exceptions are marked: sentences carried over from the
README whose numbers no committed JSON holds go through `untraced` and are listed, marked with a dagger, at the end of
STUDY.md. The limits the results are judged by (targets, release bars, the relearning probe) are the library's
constants, copied below with where they live; the targets are checked against the verdicts the reports recorded.
"""
import argparse, difflib, json, os, re, sys, tempfile
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / 'STUDY.md'

# The library's limits (not measurements). Where they live:
TARGETS = dict(forget_gap=0.5, retain_change=-0.3, compute=0.05)   # forgetting.report.TARGETS
RELEARN = dict(within=1.0, max_steps=100, every=10)                 # forgetting.report.relearn_steps defaults
RELEASE_BARS = dict(gain={'rain': 3.0, 'haze': 3.0, 'noise50': 6.0}, retained_gap=0.5, forgotten_gain=1.0)  # forgetting.train.RELEASE_BARS
ROBUST = dict(clean_cost=0.3, square_queries=300, cw_drop=3.0)      # benchmarks/robust_finetune.py (target, SQUARE, minimal_norms)
RETAIN_FLOOR, STEP_LIMIT = -0.5, 300   # the erasure issue's per-seed retain floor; forgetting.unlearn.UnlearnConfig.steps

# --------------------------------------------------------------------------------------------------------- reading

def load(rel): return json.loads((ROOT / rel).read_text())
def study(folder): return load(f'figures/{folder}/forgetting_report.json')

def remade_by():
    "path -> the `remade by` cell of figures/README.md's table, verbatim."
    out = {}
    for line in (ROOT / 'figures/README.md').read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split(' | ')]
        if len(cells) == 3 and cells[0].startswith('`'): out[cells[0].split('`')[1]] = cells[2].strip()
    return out

CMD = remade_by()
def remake(*paths):
    "The commands behind figures/<path> (one line, or a list for several)."
    if len(paths) == 1: return f'*Remade by* (`figures/{paths[0]}`): {CMD[paths[0]]}'
    return '*Remade by*:\n\n' + '\n'.join(f'- `figures/{p}`: {CMD[p]}' for p in paths)

UNTRACED = []
def untraced(sentence):
    "A README sentence whose numbers no committed JSON holds: kept verbatim, marked, listed at the end."
    UNTRACED.append(sentence)
    return f'{sentence} †'

# --------------------------------------------------------------------------------------------------------- formats

def sg(x, d=2): return f'{x:+.{d}f}'
def ci(r, d=2): return f"{sg(r['mean'], d)} [{sg(r['low'], d)}, {sg(r['high'], d)}]"
def mia(m): return f"{m['auc']:.3f} [{m['low']:.2f}, {m['high']:.2f}]"
def pct(c): return f'{100 * c:.1f}'
def gap_range(s): return f"{s['mean']:.2f} ({s['min']:.2f}-{s['max']:.2f})"
def mean_sd(s): return f"{sg(s['mean'])} ± {s['std']:.2f} ({sg(s['min'])} to {sg(s['max'])})"
def steps(n, limit=RELEARN['max_steps']): return f'none in {limit}' if n is None else str(n)
def suite_steps(n, budget): return f'none in {budget}' if n is None or n > budget else str(n)   # None, budget + 1: not recovered
def joined(xs, last='and'): xs = list(xs); return xs[0] if len(xs) == 1 else ', '.join(xs[:-1]) + f' {last} ' + xs[-1]
def span(xs, d=2, signed=False):
    f = (lambda v: sg(v, d)) if signed else (lambda v: f'{v:.{d}f}')
    return f'{f(min(xs))} to {f(max(xs))}'

def table(head, rows, align=None):
    align = align or ['---'] * len(head)
    return '\n'.join(['| ' + ' | '.join(head) + ' |', '|' + '|'.join(align) + '|'] + ['| ' + ' | '.join(map(str, r)) + ' |' for r in rows])

def claim(ok, what):
    "Prose states `what`; refuse to write it when the JSON no longer says so."
    if not ok: raise SystemExit(f'study_md: the committed JSON no longer supports: {what}')


# --------------------------------------------------------------------------------------------------------- paired rows

def paired(rep_a, a, rep_b, b, tasks):
    "The paired per-image difference of two saved report rows (the library's, on `row_results`): mean, low, high, ..."
    from forgetting.evaluate import paired_difference
    from forgetting.report import row_results
    if rep_a['image_tasks'] != rep_b['image_tasks']: raise SystemExit(f'study_md: {a} and {b} are not on the same images')
    return paired_difference(row_results(rep_a, a), row_results(rep_b, b), tasks)

# --------------------------------------------------------------------------------------------------------- the data

S, NEG, SSD, ADA = study('study'), study('study_negation'), study('study_ssd'), study('study_adair')
REL, SEL, PER, ALL = study('study_relearn'), study('study_selective'), study('study_perturb'), study('study_all')
OPT, RS = load('figures/option_search/option_search.json'), load('figures/relearn_search/relearn_search.json')
ES = load('figures/erasure_search/erasure_search.json')
ROB, OLD = load('figures/robust_finetune/robust_finetune.json'), load('figures/robustness.json')
BENCH, DEMO = load('figures/model_benchmark.json'), load('figures/demo/report.json')
FULL = load('figures/fullsize_unlearn/fullsize_unlearn.json')
TSE, TYS = load('figures/type_search/type_search.json'), load('figures/study_types/type_study.json')['types']
FIRST = next(g for g in TYS['noise']['seeds'] if g != 'noise')   # noise at the first rule's choice
CARD = {n: load(f'data/checkpoints/{n}.json') for n in ('promptir-tiny-original', 'promptir-tiny-retrained-nohaze',
                                                         'adair-tiny-original', 'adair-tiny-retrained-nohaze', 'purifier-dim16')}
FT, RT = S['forget_tasks'], S['retain_tasks']
FORGET = FT[0]
TASKS = FT + RT
MIDPOINT = 'pass-through-distill +midpoint 3'   # the ablation row chosen on the validation suite

def rows_of(rep, group): return [rep['rows'][k] | {'name': k} for k in rep['seeds'][group]['rows']]
def verdict(rep, name): return next(t for t in rep['targets'] if t['model'] == name)
def task_change(rep, name, task): return rep['rows'][name]['retain']['tasks'][task]['mean']
def seeds_of(rep, group): return [r['seed'] for r in rows_of(rep, group)]
def seed_list(rep, group): return joined([str(s) for s in seeds_of(rep, group)])
def n_seeds(rep, group): return rep['seeds'][group]['forget_gap']['n']

def check_targets(rep):
    "The verdicts the report recorded are its rows against TARGETS and the retrained model's relearning and membership."
    for t in rep['targets']:
        m = t['met']
        ok = (m['forget_gap'] == (t['forget_gap'] <= TARGETS['forget_gap']) and m['retain_change'] == (t['retain_change'] >= TARGETS['retain_change'])
              and m['compute'] == (t['compute'] <= TARGETS['compute']) and m['relearn'] == (t['relearn_steps'] is None)
              and m['membership'] == (t['membership']['low'] <= 0.5 <= t['membership']['high']))
        claim(ok, f"the targets of {t['model']} are TARGETS = {TARGETS} (update the copy in this script)")

def check_paired():
    "The reimplemented bootstrap gives back the reports' own intervals."
    for rep, name in ((S, 'pass-through-distill seed 0'), (PER, 'pass-through-distill +perturb 0.2'), (DEMO, 'unlearned (pass-through-distill)')):
        got, want = paired(rep, name, rep, 'original', rep['retain_tasks']), rep['rows'][name]['retain']
        claim(all(abs(got[k] - want[k]) < 1e-9 for k in ('mean', 'low', 'high')), f'the paired bootstrap reproduces {name}')

for rep in (S, NEG, SSD, ADA, REL, SEL, PER, ALL): check_targets(rep)
check_paired()

# --------------------------------------------------------------------------------------------------------- sections

def intro():
    return f"""# The study: what was measured, and how to remake it

Every number in this file is formatted by `benchmarks/study_md.py` from the committed JSON under `figures/` and the cards
in `data/checkpoints/`; do not edit it by hand. `python benchmarks/study_md.py` rewrites it, and
`python benchmarks/study_md.py --check` exits 1 when it is not current. Under each heading, *Remade by* names the command
that remakes the JSON behind it (from [`figures/README.md`](figures/README.md)).

Comparisons of two models are paired per-image differences with bootstrap 95% intervals over the
{S['rows']['original']['retain']['tasks'][RT[0]]['n']} test images of each task (`forgetting.evaluate.paired_difference`);
crops of one photo are correlated, so the intervals are optimistic. A sentence marked † comes from the earlier README and
its numbers are in no committed JSON; they are listed at the end.

- [The demo, read closely](#the-demo-read-closely)
- [The yardstick: the study pair, the suite and the audit](#the-yardstick-the-study-pair-the-suite-and-the-audit)
- [The forgetting study on the study pair](#the-forgetting-study-on-the-study-pair)
- [The option search](#the-option-search)
- [Forgetting rain and noise](#forgetting-rain-and-noise)
- [Relearning and erasure](#relearning-and-erasure)
- [The default on AdaIR-tiny](#the-default-on-adair-tiny)
- [Robustness: attacks and defences on the study pair's original](#robustness-attacks-and-defences-on-the-study-pairs-original)
- [The bundled checkpoints: training and quality bars](#the-bundled-checkpoints-training-and-quality-bars)
- [Timings](#timings)
- [History](#history)
- [Reliability and several processes](#reliability-and-several-processes)
- [Sentences not traced to a committed JSON](#sentences-not-traced-to-a-committed-json)
"""

def demo():
    rows, d = DEMO['rows'], DEMO['demo']
    u_name = next(k for k in rows if k.startswith('unlearned'))
    u, ret = rows[u_name], rows['retrained']
    noise = [u['retain']['tasks'][t]['mean'] for t in RT if t.startswith('noise')]
    rain = u['retain']['tasks']['rain']
    met3 = (u['forget_gap'] <= TARGETS['forget_gap'] and u['retain_change'] >= TARGETS['retain_change'] and u['compute'] <= TARGETS['compute'])
    claim(met3, 'the demo meets the forget-gap, retain and compute targets')
    claim(ret['relearn_steps'] is None and u['mia_calibrated']['low'] > 0.5, 'the demo model relearns and stands out to the audit')
    acc = S['rows']['accurate (published) seed 0']
    per_task = table(['model'] + [f'{t} PSNR (gain)' for t in TASKS],
                     [[k] + [f"{r['tasks'][t]['psnr']:.2f} ({sg(r['tasks'][t]['gain'])})" for t in TASKS] for k, r in rows.items()])
    return f"""## The demo, read closely

{remake('demo/')}

`make demo` runs `forgetting demo`: it loads the two bundled `promptir-tiny` models (`{d['original']}`, trained on all
{len(TASKS)} tasks, and `{d['retrained']}`, trained the same way without {FORGET}: the study pair below), makes the
original forget {FORGET} with the default recipe, `{d['method']}` (no retain data: it trains the model to pass {FORGET}
through, as the retrained model does, while distilling the original on *proxy-retain* inputs, the forget photos' clean
images degraded with noise and rain; the stop rule fires within 0.25 dB of no {FORGET} gain, from step 100 on, the
recipe's defaults; `--method accurate` runs the published Accurate Forgetting recipe; the forget set is cut from the
{FORGET} photos only), scores the three models on the bundled test suite, audits membership and relearning, and prints
the report. It writes `runs/demo/` (ignored by git): `report.md` and `report.json` (per-task PSNR/SSIM/restoration
gain; forget gap and retain change as paired per-image differences with 95% intervals, median and share of images
that got worse; output PSNR against the retrained model; loss-threshold and calibrated membership AUC; relearning steps;
compute and wall time against retraining), `psnr.png`, `gain.png`, `grid.png` (input, original, unlearned, retrained,
clean), `changes.png` (every test image's change against the original) and the unlearned checkpoint `unlearned-haze.pt`
with its card. The committed run recorded {d['seconds']:.0f} s in all on this {BENCH['machine']['cpu_count']}-core CPU, with `make test` and another
job running beside it, after the install (its timing is not a benchmark; `demo.seconds` in `figures/demo/report.json`).

Per task, PSNR (restoration gain) on the {len(DEMO['image_tasks'])} test images:

{per_task}

The default forgets {FORGET} to within {u['forget_gap']:.2f} dB of the retrained model at {pct(u['compute'])}% of
retraining's compute, and the retained tasks change by {ci(u['retain'])} dB: the three targets (gap <=
{TARGETS['forget_gap']} dB, retain change >= {TARGETS['retain_change']} dB, compute <= {TARGETS['compute'] * 100:g}%) are
met. The mean hides a spread: noise moves by {span(noise, signed=True)} dB per task, rain gains {sg(rain['mean'])} dB on
average but its median image changes by {sg(rain['median'])} dB, and {100 * u['retain']['worse']:.0f}% of the
retained-task images are a little worse (median {sg(u['retain']['median'])} dB). The unlearned model relearns {FORGET}
in {u['relearn_steps']} fine-tuning steps, the retrained model not within {RELEARN['max_steps']}, and its calibrated
membership AUC is {mia(u['mia_calibrated'])} against the retrained model's {ret['mia_calibrated']['auc']:g}: what the
unlearned model shows is suppressed, not erased (the privacy targets are missed). `--method accurate` runs the
published recipe ({ci(acc['retain'])} dB on the retained tasks on seed {acc['seed']}, {pct(acc['compute'])}% compute;
the study below).
"""

def yardstick():
    c = CARD['promptir-tiny-original']
    data, cfg = c['data'], c['config']
    size, grid = (int(re.search(rf'{k}=(\d+)', data['test_suite']).group(1)) for k in ('size', 'grid'))
    per_task = c['metrics'][RT[0]]['count']
    pools = '; '.join(f"{k}: {', '.join(v)}" for k, v in data['pools'].items())
    pool_sizes = {len(v) for v in data['pools'].values()}
    claim(len(pool_sizes) == 1, 'the pools are of one size')
    return f"""## The yardstick: the study pair, the suite and the audit

Every claim about forgetting is measured against one benchmark, built so that it can tell a retain change of
{TARGETS['retain_change']} dB (the target) from -0.8 dB:

- **Per-type photo pools.** In real all-in-one training each degradation comes from its own dataset (BSD400/WED for
  noise, Rain100L for rain, RESIDE-OTS for haze). The bundled {len(data['train_photos'])} training photos are dealt
  into {len(data['pools'])} disjoint pools of {pool_sizes.pop()} ({untraced('2 grey + 2 colour each')}; `forgetting.data.type_pools`,
  `bundled_pools`; {pools}): the {FORGET} photos are private to the {FORGET} task, the forget set is cut from them
  alone, and the retrained model never saw them. The old layout, every task on the same photos, stays available
  (`layout='shared'`).
- **The study pair** (`data/checkpoints/`): promptir-tiny trained on the pools with the release recipe,
  {cfg['steps']} steps of {cfg['batch_size']} patches of {cfg['patch_size']} px, once on all {len(cfg['tasks'])} tasks and
  once without {FORGET}; cards, curves and the convergence check beside the weights
  ([below](#the-bundled-checkpoints-training-and-quality-bars)).
- **The suite**: {grid} x {grid} fixed crops of {size} px of each of the {len(data['test_photos'])} test photos
  ({', '.join(data['test_photos'])}), {per_task} images per task (`bundled_suite`, `grid={grid}`). Every comparison of
  two models is a paired per-image difference with its standard error and a bootstrap 95% interval
  (`forgetting.evaluate.paired_difference`), in the `evaluate` tables (`PSNR se`) and in the forgetting report. Crops of
  one photo are correlated, so with {len(data['test_photos'])} photos the intervals are optimistic.
- **The privacy audit**: beside the loss-threshold membership AUC, a per-image difficulty-calibrated one (Shafran et
  al., ICCV 2021: each image's error minus the retrained model's on the same image), forget-set photos against unseen
  test photos, with its bootstrap interval; and **relearning**: fine-tuning steps on the forget set until the {FORGET}
  gain is back within {RELEARN['within']:g} dB of the original's, checked every {RELEARN['every']} steps up to
  {RELEARN['max_steps']} (a model that only hides what it knew relearns fast).
- **Your own photos**: `forgetting evaluate --photos DIR` and `forgetting report --photos DIR` score the five tasks on a
  folder of clean photos, cropped like the bundled suite.

The same report in Python, on any image-to-image `nn.Module` (`attack`, `purify` and `unlearn` never import `model`):

```python
from forgetting.data import PatchDataset, bundled_pools, bundled_suite, forget_retain
from forgetting.unlearn import forget
from forgetting.report import forgetting_report, membership_sets, report_markdown

forget_tasks, retain_tasks = forget_retain('haze')
forget_set = PatchDataset(bundled_pools()['haze'], forget_tasks, patch_size=48, length=64)   # the private haze photos
unlearned, history = forget(my_model, forget_set, trained_tasks=forget_tasks + retain_tasks)   # the default recipe
report = forgetting_report(my_model, my_retrained_model, {{'pass-through-distill': (unlearned, history)}}, bundled_suite('test'),
                           forget_tasks, *membership_sets(forget_tasks), relearn_set=forget_set)
print(report_markdown(report))
```
"""

MAIN = [('pass-through-distill', '**pass-through-distill** (the default)'), ('accurate (published)', 'accurate (published)'),
        ('accurate-fast', 'accurate-fast'), ('GA only', 'GA only'), ('accurate -adv', 'accurate -adv'),
        ('pass-through-distill -min steps', 'pass-through-distill -min steps'),
        ('relabel @0.25', 'relabel @0.25 (retain data)'), ('neggrad+ @0.25', 'neggrad+ @0.25 (retain data)')]

def seed_table(rep, recipes):
    out = []
    for group, label in recipes:
        s, rs = rep['seeds'][group], rows_of(rep, group)
        first = rs[0]
        met = sum(verdict(rep, r['name'])['psnr_and_compute'] for r in rs)
        out.append([label, s['forget_gap']['n'], gap_range(s['forget_gap']), mean_sd(s['retain_change']), ci(first['retain']),
                    mia(first['mia_calibrated']), ', '.join(steps(r['relearn_steps']) for r in rs), pct(s['compute']['mean']),
                    f"{met} of {len(rs)}"])
    return out

def the_study():
    rows, seeds = S['rows'], S['seeds']
    runs = len(rows) - 2
    seed_groups = {g: rows[s['rows'][0]]['group'] for g, s in seeds.items()}
    n_abl = sum(v == 'ablation' for v in seed_groups.values())
    all_seeds = sorted({rows[k]['seed'] for s in seeds.values() for k in s['rows']})
    o, r = rows['original'], rows['retrained']
    tab = seed_table(S, MAIN)
    tab += [['original', '-', f"{o['forget_gap']:.2f}", sg(o['retain_change']), ci(o['retain']), mia(o['mia_calibrated']),
             steps(o['relearn_steps']), '-', '-'],
            ['retrained', '-', f"{r['forget_gap']:.2f}", sg(r['retain_change']), ci(r['retain']), mia(r['mia_calibrated']),
             steps(r['relearn_steps']), '-', '-']]
    tab = table(['recipe', 'seeds', 'forget gap, mean (range)', 'retain change, mean ± std (range)', f'retain change [95%], seed {all_seeds[0]}',
                 f'calibrated MIA, seed {all_seeds[0]} [95%]', 'relearn steps (seeds)', 'compute %', 'meets the gap, retain and compute targets (seeds)'], tab)
    nd, imp = rows['pass-through-distill -distill'], rows['pass-through-distill +importance']
    proxy, afd, rel = rows['accurate-proxy'], rows['accurate-fast + distill'], rows['relabel']
    claim(imp['stop_reason'] == 'step limit' and afd['stop_reason'] == 'step limit', '+importance and accurate-fast + distill run to the step limit')
    # findings
    ascent = [k for k in rows if k.startswith(('accurate', 'GA only')) and rows[k]['group'] != 'retain data']
    loss = [-rows[k]['retain_change'] for k in ascent]
    claim(min(loss) > -TARGETS['retain_change'], 'every ascent row misses the retain target')
    pub = rows_of(S, 'accurate (published)')
    pub_rain = [-task_change(S, x['name'], 'rain') for x in pub]
    claim(all(x['retain']['high'] < 0 for x in pub), "every published seed's interval excludes 0")
    claim(all(min(RT, key=lambda t: task_change(S, x['name'], t)) == 'rain' for x in pub), 'the published recipe loses rain the most')
    dft = rows_of(S, 'pass-through-distill')
    claim(all(verdict(S, x['name'])['psnr_and_compute'] for x in dft), 'the default meets the three targets on every seed')
    claim(all(x['retain']['high'] > 0 for x in dft), "no default seed's interval lies below 0")
    d_rain = [task_change(S, x['name'], 'rain') for x in dft]
    d_noise = max(abs(task_change(S, x['name'], t)) for x in dft for t in RT if t.startswith('noise'))
    derain = r['tasks']['rain']['psnr'] - o['tasks']['rain']['psnr']
    why = S['diagnostics']['forget_term_alignment']
    claim(all(v > 0 for term in why.values() for v in term.values()), 'each forget term alone raises every retained loss')
    claim(max(why['pass-through'], key=why['pass-through'].get) == 'rain', 'pass-through raises rain the most')
    moved = S['diagnostics']['layer_changes']
    d0, ga0 = f"pass-through-distill seed {all_seeds[0]}", f"GA only seed {all_seeds[0]}"
    claim(all('level3' in k and 'norm' in k and k.endswith('bias') for k in list(moved[d0])[:2]), 'the default moves deep normalisation biases')
    claim([k.split('.')[0] for k in list(moved[ga0])[:2]] == ['patch_embed', 'output'], 'ascent moves the patch embedding and output convolution')
    top = lambda k, n=2: joined([f'`{p}`' for p in list(moved[k])[:n]])
    early = rows_of(S, 'pass-through-distill -min steps')
    early_stop = [x['stop_step'] for x in early]
    v_early = [x for x in OPT['rows'] if x['name'].startswith('pass-through + distill 3, stop 0.25')]
    v_early = [x for x in v_early if x['name'] == 'pass-through + distill 3, stop 0.25' or 'seed' in x['name']]
    v_chosen = [x for x in OPT['rows'] if x['name'].startswith('pass-through-distill (the default)')]
    v_under = [x['forget_gap'] for x in v_early if x['forget_gap'] > TARGETS['forget_gap']]
    claim(len(v_under) == 2 and len(v_early) == 3, 'the early stop under-forgot on two of three validation seeds')
    early_miss = sum(x['forget_gap'] > TARGETS['forget_gap'] for x in early)
    min_steps = {x['stop_step'] for x in dft}
    claim(len(min_steps) == 1, 'the default stops at min_steps on every seed')
    r25 = rows_of(S, 'relabel @0.25')
    r25_met = sum(verdict(S, x['name'])['psnr_and_compute'] for x in r25)
    claim(r25_met == 2 and verdict(S, 'relabel @0.50')['psnr_and_compute'], 'relabel meets the targets on 2 of 3 seeds and at 0.50')
    claim(max(x['forget_gap'] for x in r25 if not verdict(S, x['name'])['psnr_and_compute']) > TARGETS['forget_gap'], 'the third relabel seed under-forgets')
    ng = seeds['neggrad+ @0.25']['retain_change']
    unl = [x for k, x in rows.items() if k not in ('original', 'retrained')]
    rl = [x['relearn_steps'] for x in unl]
    claim(None not in rl and r['relearn_steps'] is None, 'every study row relearns, the retrained model not')
    d_mia = [x['mia_calibrated'] for x in dft]
    claim(d_mia[0]['low'] > 0.5, "the default's seed-0 membership interval excludes 0.5")
    return f"""## The forgetting study on the study pair

{remake('study/')}

The script runs every method, ablation, option and baseline as a `forgetting unlearn` command (printed beside each row
in `figures/study/forgetting_report.json`, so any row can be repeated by hand): {runs} runs, {len(seeds)} recipes on
seeds {joined(map(str, all_seeds))} (the main recipes, {n_abl} ablations and two retain-data baselines), each row with
intervals over the {o['retain']['tasks'][RT[0]]['n']} images per task. The default's options were chosen beforehand on a
validation suite of the *training* photos ([the option search](#the-option-search), {len(OPT['rows'])} candidates).
Not run: finetune and adapt-then-unlearn with retain data.

The recipes: `accurate (published)` is *Accurate Forgetting* (Su & Zheng 2024): instance-wise unlearning by gradient
ascent on the private data, plus adversarial examples from the frozen original model that hold the rest of its behaviour
in place, plus importance (MAS) anchoring of the weights the private data does not need; `accurate -adv`,
`accurate -importance` and `GA only` take parts away; `accurate-fast` (a cheaper adversarial set, a larger learning
rate) and `accurate-proxy` (bounded ascent, adversarial examples started from proxy-retain inputs) are our options on it.
`pass-through-distill` is the default (see [the demo](#the-demo-read-closely)); `-distill`, `+importance` and `-min
steps` are its ablations. `relabel` (saliency-masked identity relabelling), `neggrad+` and `+ retain descent` use retain
data: `@0.25` and `@0.50` are the share of each retained type's bundled photos they are given (`--retain-fraction`).

Targets (`forgetting.report.TARGETS`): forget gap <= {TARGETS['forget_gap']} dB, retain change >=
{TARGETS['retain_change']} dB, compute <= {TARGETS['compute'] * 100:g}% of retraining; and, in every report's targets
table, the privacy targets against the retrained model: relearning no faster than it (it does not relearn {FORGET}
within {RELEARN['max_steps']} steps) and a calibrated membership interval that holds its AUC,
{r['mia_calibrated']['auc']:g}. Recipes run on several seeds, mean and spread over the seeds (every row with its
interval is in `figures/study/forgetting_report.md`):

{tab}

Single-seed rows (seed {all_seeds[0]} each): without its distillation the default changes the retained tasks by
{ci(nd['retain'])} dB (rain {sg(task_change(S, 'pass-through-distill -distill', 'rain'), 1)} dB); with the published importance
penalty added it keeps the retained tasks ({ci(imp['retain'])} dB) but runs to the step limit ({pct(imp['compute'])}%
compute); `accurate-proxy` {ci(proxy['retain'])} dB, `accurate-fast` + distillation {ci(afd['retain'])} dB at
{pct(afd['compute'])}% compute, `relabel` without retain data {ci(rel['retain'])} dB.

### What it says

(Asserted from the JSON in `nbs/06_report.ipynb`.)

- **Gradient ascent forgets {FORGET} and takes noise and rain with it.** Every recipe built on it lands near the
  retrained model on {FORGET} but loses {span(loss, 1)} dB on the retained tasks, on every seed; the published recipe
  {-seeds['accurate (published)']['retain_change']['mean']:.2f} ± {seeds['accurate (published)']['retain_change']['std']:.2f} dB
  over its {n_seeds(S, 'accurate (published)')} seeds (rain {span(pub_rain, 1)} dB; every seed's interval excludes 0).
- **The default meets the forget-gap, retain and compute targets on all {len(dft)} seeds, with no retain data.** Its
  retained tasks change by {sg(seeds['pass-through-distill']['retain_change']['mean'])} dB on average; no seed's interval
  lies below 0. Against the original, which over-applies its {FORGET} skill to rain (the retrained model derains
  {derain:.1f} dB better), passing {FORGET} through even helps rain a little ({span(d_rain, 1, True)} dB), while noise
  stays within {d_noise:.2f} dB.
- **Why it works** (`figures/study/forgetting_why.png`, the diagnostics in the report): at the original weights a step
  on either forget term, ascent or pass-through, raises every retained task's loss (cosine of its descent direction
  with each task's gradient: ascent {span(why['ascent'].values(), 2, True)}, pass-through
  {span(why['pass-through'].values(), 2, True)}, rain the most for pass-through); the distillation on proxy-retain inputs
  cancels that, and the weights that move are deep normalisation biases ({top(d0)} on seed {all_seeds[0]}), not the
  patch embedding and output convolution that ascent moves ({top(ga0)} for GA only).
- **Why `min_steps`**: without it the stop rule fires on the forget set's check batch at step
  {span(early_stop, 0)} ({FORGET} passed through on the check batch, not yet on other photos): on the validation suite
  that under-forgot on {len(v_under)} of {len(v_early)} seeds (gaps {span(v_under)}), and on the test photos it misses
  the gap target on {early_miss} of {len(early)} seeds (the `-min steps` row). The first run of this study had the early
  stop as the default and showed it; the fix (`min_steps={min_steps.pop()}`) was then chosen on the validation suite,
  where it brings every seed's gap to {max(x['forget_gap'] for x in v_chosen):.2f} dB or less.
- **With retain data, identity relabelling also keeps the retained tasks**: one retain photo per type (`@0.25`) meets
  the targets on {r25_met} of {len(r25)} seeds (the third under-forgets), two photos per type (`@0.50`) on its one seed;
  NegGrad+ with the same data still loses {-ng['mean']:.2f} ± {ng['std']:.2f} dB over its
  {n_seeds(S, 'neggrad+ @0.25')} seeds.
- **Not erased: the privacy targets are missed.** Every unlearned model of this study, the default included, relearns
  {FORGET} within {min(rl)} to {max(rl)} fine-tuning steps on the forget set; the retrained model does not within
  {RELEARN['max_steps']}. The default's calibrated membership AUC ({span([m['auc'] for m in d_mia])} over seeds; seed
  {all_seeds[0]}'s interval excludes 0.5) is not the retrained model's {r['mia_calibrated']['auc']:g}: its forget photos
  still stand out. The {FORGET} skill is suppressed, not removed; relearning is the open test
  ([Relearning and erasure](#relearning-and-erasure)).
"""

def option_search():
    rows = OPT['rows']
    key = lambda x: x['name'].startswith(('pass-through + distill 3, stop 0.25', 'pass-through-distill (the default)'))
    fmt = lambda x: [x['name'], f"{x['forget_gap']:.2f}", f"{sg(x['retain'])} [{sg(x['retain_ci'][0])}, {sg(x['retain_ci'][1])}]",
                     sg(x['per_task']['rain']), sg(x['per_task']['noise15']), pct(x['compute']), x['steps'], x['stop']]
    head = ['candidate', 'forget gap', 'retain change [95%]', 'rain', 'noise15', 'compute %', 'steps', 'stop']
    return f"""## The option search

{remake('option_search/')}

How the default's options were chosen: every candidate, a list of `forgetting unlearn` options, on a validation suite of
the *training* photos (`{OPT['suite']}`: other noise, rain and haze draws than training used), never the test photos;
seed 0 unless the name says otherwise. {len(rows)} candidates, in the order they were tried: ascent against
pass-through, the distillation weight, the stop gain, the stop rule's first step (`min_steps`), fixed budgets. The
decisive rows, the stop rule from step 0 against the chosen default (from step 100):

{table(head, [fmt(x) for x in rows if key(x)])}

<details><summary>All {len(rows)} candidates</summary>

{table(head, [fmt(x) for x in rows])}

</details>
"""

def meets(rows, mean):
    "Whether a recipe's retain change meets the erasure issue's retain target: the mean, and every seed above the floor."
    return mean >= TARGETS['retain_change'] and all(r['retain_change'] >= RETAIN_FLOOR for r in rows)

def rows_of_type(t): return [TYS[t]['rows'][n] for n in TYS[t]['seeds'][t]['rows']]

def other_types():
    "Forgetting rain and noise: the default's settings per type, screened on the validation suite, then the test photos."
    rows, chosen = TSE['rows'], TSE['chosen']
    at_haze = {t: next(x for x in rows if x['name'] == f'{t}: lr 0.0001') for t in chosen}
    first = next(x for x in rows if x['name'] == 'noise: lr 0.001')
    claim(not any(x['forgot'] for x in at_haze.values()), "at haze's settings neither rain nor noise forgets within the limit")
    claim(all(x['check_gain'] > x['forget_gain'] for x in rows), "the check batch's gain runs above the validation photos'")
    claim(first['forgot'] and all(not x['forgot'] for x in rows if x['forget'] == 'noise' and x['name'].startswith('noise: lr 0.000')),
          'lr 1e-3 is the smallest noise rate that fires (the first rule)')
    fmt = lambda x: [x['name'], sg(x['forget_gain']), sg(x['check_gain']), f"{sg(x['retain'])} [{sg(x['retain_ci'][0])}, {sg(x['retain_ci'][1])}]",
                     ', '.join(f'{t} {sg(v)}' for t, v in x['per_task'].items()), pct(x['compute']), x['steps'], 'yes' if x['forgot'] else 'no']
    head = ['candidate', 'forget gain', 'check batch at the stop', 'retain change [95%]', 'per retained task', 'compute %', 'steps', 'stop rule met']
    test, said = [], []
    for t, rep in TYS.items():
        for g, sm in rep['seeds'].items():
            rs = [rep['rows'][n] | {'name': n} for n in sm['rows']]
            claim(all(r['forgot'] and r['stop_step'] < STEP_LIMIT for r in rs), f'the stop rule fires before the limit on every {g} seed')
            claim(all(r['compute'] > TARGETS['compute'] for r in rs), f"every {g} seed costs more than the {TARGETS['compute']:.0%} target")
            ok = meets(rs, sm['retain_change']['mean'])
            test.append([g, f"{rs[0]['lr']:g}, {rs[0]['distill']:g}", ', '.join(str(r['stop_step']) for r in rs),
                         f"{sg(sm['forget_gain']['mean'])} (original {sg(rep['rows']['original']['forget_gain'])})",
                         '; '.join(ci(r['gain']) for r in rs), mean_sd(sm['retain_change']), '; '.join(ci(r['retain']) for r in rs),
                         'met' if ok else '**missed**', pct(sm['compute']['mean']), ', '.join(steps(r['relearn_steps']) for r in rs)])
            low = [r for r in rs if r['retain_change'] < RETAIN_FLOOR]
            per = sum(r['retain_change'] >= TARGETS['retain_change'] for r in rs)
            below = '; '.join(f"below the floor, {r['name']}: " + ', '.join(f"{k} {sg(v['mean'])}" for k, v in r['retain']['tasks'].items())
                              for r in low)
            said.append(f"`{g}`: the retained tasks {'meet' if ok else 'miss'} it ({per} of {len(rs)} seeds at or above "
                        f"{TARGETS['retain_change']}" + (f'; {below})' if low else ')'))
    vs = TYS['noise']['versus_first']
    claim(len(vs) == 3 and all(d['low'] < 0 < d['high'] for d in vs.values()), "no seed's interval tells the two noise settings apart")
    claim(TYS['noise']['seeds']['noise']['compute']['mean'] > TYS['noise']['seeds'][FIRST]['compute']['mean'], 'the chosen noise settings cost more')
    return f"""## Forgetting rain and noise

{remake('type_search/', 'study_types/')}

The default's options were chosen for {FORGET}. At {FORGET}'s settings its stop rule does not fire within the step limit
when it forgets rain or noise (on the validation suite, seed 0: the restoration gain left on the forgotten tasks is
{joined([f"{sg(x['forget_gain'])} dB ({t})" for t, x in at_haze.items()])}, and the check batch's at the limit
{joined([f"{sg(x['check_gain'])} dB" for x in at_haze.values()])}; the check batch's gain runs above the validation
photos' in every candidate, so the rule errs on the side of forgetting more). `forgetting.unlearn.TYPE_SETTINGS` gives the
default its settings per forgotten type, chosen on the validation suite by the rule: {TSE['rule']}. It chooses
{joined([', '.join(f'{k} {v:g}' for k, v in c.items()) + f' for {t}' for t, c in chosen.items()])}; the caller's `--lr` and `--set` still win, and {FORGET} keeps the
settings it was chosen with. A first rule, the smallest rate that fires, chose the rate alone for noise ({first['name']});
on the test photos its retained tasks swung from seed to seed (its rows are kept below), so the later noise candidates were
added and the rule changed; the choice is still made on the validation photos alone.

{table(head, [fmt(x) for x in rows])}

On the test photos (`forgetting unlearn --forget TYPE --seed S`, seeds 0-2; there is no retrained model without rain or
noise, so there is no forget gap: the forget side is the restoration gain left, 0 dB being the degraded input passed
through):

{table(['rows', 'lr, distill', 'stop steps', 'forget gain', 'forget gain per seed [95%]', 'retain change', 'retain change per seed [95%]',
        'retain target', 'compute %', 'relearning probe (steps)'], test)}

The retain target here is the erasure issue's: a mean of at least {TARGETS['retain_change']} dB and every seed at least
{RETAIN_FLOOR} dB. {'; '.join(said)}. Against the first rule's rows of the same seed, the chosen noise settings change the
retained tasks by {', '.join(ci(d) for d in vs.values())} dB: no interval tells them from 0, at more compute. Every row
costs more than the project's {TARGETS['compute']:.0%} compute target (rain {span([r['compute'] * 100 for r in rows_of_type('rain')], 1)}%,
noise {span([r['compute'] * 100 for r in rows_of_type('noise')], 1)}%). Forgetting noise without retain data costs rain and haze on some seeds under both settings run
on the test photos: the retain target for it is not met here. The relearning probe has no reference
here: there is no model retrained without rain or noise.
"""


def relearning():
    # task negation, SSD
    out = ['## Relearning and erasure\n',
           'Recipes and baselines tried since the study, each against the same yardstick and the same targets.\n']
    for rep, group, title, cite, what, path in (
            (NEG, 'task-negation', 'Task-vector negation', 'Ilharco et al. 2023', "fine-tune a copy on the forget set, subtract a multiple of its task vector chosen by the default's stop rule", 'study_negation/'),
            (SSD, 'ssd', 'Label-free selective synaptic dampening', 'Foster et al., AAAI 2024', "shrink the weights far more important for the forget inputs than for proxy-retain inputs, no optimiser step, the threshold chosen by the default's stop rule", 'study_ssd/')):
        s, rs = rep['seeds'][group], rows_of(rep, group)
        v = [verdict(rep, x['name']) for x in rs]
        miss_gap_retain = all(not (t['met']['forget_gap'] and t['met']['retain_change']) for t in v)
        rl = [x['relearn_steps'] for x in rs]
        highs = [x['retain']['high'] for x in rs]
        if group == 'task-negation':
            bound = -5
            claim(all(h < bound for h in highs), "every task-negation seed's interval lies below -5")
            claim(all(not t['met']['retain_change'] for t in v) and miss_gap_retain, 'task negation misses the gap and retain targets on every seed')
            verdict_txt = (f"every seed's interval lies below {bound}), compute {pct(s['compute']['mean'])}%, relearning in "
                           f"{span(rl, 0)} steps: it misses the gap and retain targets on every seed. The {FORGET} task vector is "
                           f"not {FORGET} alone; scaling it until the check batch forgets {FORGET} tears down every retained task.")
        else:
            claim(all(h < 0 for h in highs), "every SSD seed's interval lies below 0")
            claim(len(set(rl)) == 1, 'SSD relearns in the same number of steps on every seed')
            verdict_txt = (f"every seed's interval lies below 0), compute {pct(s['compute']['mean'])}%, calibrated MIA "
                           f"{' / '.join(mia(x['mia_calibrated']) for x in rs)}, relearning in {rl[0]} steps on every seed: cheapest "
                           f"of all and near the retrained model on {FORGET}, but the weights that carry {FORGET} also carry noise and rain.")
        out.append(f"""### {title}

{remake(path)}

{title} ({cite}, `--method {group}`: {what}; seeds {seed_list(rep, group)}): forget gap {gap_range(s['forget_gap'])} dB,
retain change {sg(s['retain_change']['mean'])} ± {s['retain_change']['std']:.2f} dB (seed {rs[0]['seed']}: {ci(rs[0]['retain'])};
{verdict_txt}
""")
    out.append(relearn_step())
    out.append(selective())
    out.append(perturb())
    out.append(midpoint())
    out.append(erasure())
    out.append(erasure_screen())
    out.append(erasure_full())
    out.append(every_row())
    return '\n'.join(out)


def erasure_table(E) -> tuple:
    "The markdown table of a report's erasure rows (worst case, steps per attack, probes, audit), and the attacks' names."
    budget, rows = E['erasure']['max_steps'], {k: r for k, r in E['rows'].items() if 'erasure' in r}
    worst = lambda v: suite_steps(v, budget)
    attacks = list(next(iter(rows.values()))['erasure']['relearn']['attacks'])
    rate = lambda a, k: f"{a[k]['tpr']:.2f} [{a[k]['low']:.2f}, {a[k]['high']:.2f}]"
    def line(k, r):
        x, a = r['erasure'], r['erasure'].get('audit')
        per = [worst(c['recovered'] if c['recovered'] is not None else budget + 1) for c in x['relearn']['attacks'].values()]
        return [k, worst(x['relearn_worst']), *per, sg(x['noise']['rise']), sg(x['line']['0.5']), f"{x['distance']:.4f}",
                mia(a['auc']) if a else '-', rate(a, 'tpr@0.01') if a else '-', rate(a, 'tpr@0.1') if a else '-',
                '-' if k == 'original' else ci(r['retain'])]
    return table(['model', 'worst', *attacks, 'noise rise (dB)', 'gain at the midpoint (dB)', 'distance', 'calibrated AUC [95%]',
                  'TPR@1% FPR', 'TPR@10% FPR', 'retain change [95%]'], [line(k, r) for k, r in rows.items()]), attacks


def erasure():
    "Erased or switched off: the relearning attack suite, the probes and the 64-member audit (figures/study_erasure/)."
    E = study('study_erasure')
    e, ref = E['erasure'], E['relearn_reference']
    budget, refs = e['max_steps'], e['references']
    worst = lambda v: suite_steps(v, budget)
    tab, first = erasure_table(E)
    groups = {}
    for k in e['targets']: groups.setdefault(E['rows'][k].get('recipe', k), []).append(k)
    met = lambda g, t: sum(e['targets'][k][t] for k in groups[g])
    summary = '; '.join(f"`{g}`: relearning {met(g, 'relearn')}/{len(ks)}, membership {met(g, 'membership')}/{len(ks)}, "
                        f"noise {met(g, 'noise')}/{len(ks)}" for g, ks in groups.items())
    of = lambda g: [E['rows'][k] for k in groups.get(g, [])]
    dft, mid, pt = of('pass-through-distill'), of(MIDPOINT), of('pass-through-distill +perturb 0.3')
    claim(all(r['relearn_worst'] < ref for r in dft), 'the default relearns faster than the slower retrained model on every seed')
    worst_attack = worst_attacks(dft)
    # the reference spread: each retrained model's recovering attacks, and the audit of one against the other
    recovers = {k: [a for a, c in E['rows'][k]['erasure']['relearn']['attacks'].items() if c['recovered'] is not None] for k in refs}
    a2 = E['rows'][refs[1]]['erasure']['audit']['auc']
    claim(not a2['low'] <= 0.5 <= a2['high'], "the second retrained model's audit interval excludes 0.5")
    d_auc = [r['erasure']['audit']['auc']['auc'] for r in dft]
    claim(max(abs(a - 0.5) for a in d_auc) <= abs(a2['auc'] - 0.5), "the default's AUCs lie within the retrained models' spread")
    ref_rise = max(E['rows'][k]['erasure']['noise']['rise'] for k in refs)
    claim(all(r['erasure']['noise']['rise'] <= ref_rise for r in dft), 'no weight-noise return for the default')
    retained = next(a for a in first if a.endswith('on retained'))
    back = lambda r: r['erasure']['relearn']['attacks'][retained]['gains'][-1] - r['erasure']['relearn']['attacks'][retained]['gains'][0]
    return f"""### Erased or switched off: the relearning attack suite

{remake('study_erasure/')}

`forgetting report --erasure quick` (and `forgetting_study.py --erasure quick`, `forgetting.erasure`) attacks every
model {len(first)} ways: {joined([f'`{a}`' for a in first])}, each for {budget} steps, checked every 10 (recovered:
the forgotten gain back within 1 dB of the original's); the worst case is the fewest steps. Beside it: the weight-noise
probe (the largest rise of the {FORGET} gain under Gaussian weight noise of 1-10% of each tensor's spread), the gain at
the midpoint between theta0 and the model, the relative distance to theta0, and the calibrated audit on
{e['members']} members (the private pool's photos, 4 x 4 crops) and {e['nonmembers']} non-members (every photo never
seen hazy), with the true-positive rate at 1% and 10% false positives. The references are the retrained models
({joined([f'`{r}`' for r in refs])}); `relearn_reference` is the slower one's worst case: {worst(ref)} steps.

{tab}

Erasure targets met (of the seeds): {summary}.

- **The default switches {FORGET} off.** Under its worst attack ({joined(sorted(f'`{a}`' for a in worst_attack))}) it
  relearns in {span([r['relearn_worst'] for r in dft], 0) if len({r['relearn_worst'] for r in dft}) > 1 else dft[0]['relearn_worst']} steps on every seed, where the slower retrained model needs {worst(ref)}; at
  the midpoint to theta0 {FORGET} is back by {span([r['erasure']['line']['0.5'] for r in dft], 2, True)} dB (of the
  original's {sg(E['rows']['original']['erasure']['line']['1'])}), at a distance of
  {span([r['erasure']['distance'] for r in dft], 4)} from theta0 (the retrained models:
  {joined([f"{E['rows'][k]['erasure']['distance']:.2f}" for k in refs])}).
- **The reference spread is wide.** The retrained models recover only under {joined([f"`{a}`" for k in refs for a in recovers[k]])}
  ({joined([worst(E['rows'][k]['relearn_worst']) for k in refs])} steps). Audited against the first, the second
  retrained model's calibrated AUC is {mia(a2)}: its interval excludes 0.5, so between two models that never saw the
  private photos the audit already finds a difference as large as the default's ({', '.join(f'{a:.2f}' for a in d_auc)}).
  The membership target (the interval holding 0.5) is judged against one retrained model and is stricter than the
  spread it should be judged by.
- **No return under weight noise; but fine-tuning on the retained tasks alone brings some {FORGET} back:** the
  noise probe's largest rise is {span([r['erasure']['noise']['rise'] for r in dft], 2, True)} dB for the default and
  {sg(ref_rise)} dB for the retrained models; `{retained}` raises the default's {FORGET} gain by
  {span([back(r) for r in dft], 2, True)} dB in {budget} steps (the retrained models':
  {joined([sg(back(E['rows'][k])) for k in refs])} dB).
{midpoint_erasure(E, mid, ref, budget, worst) if mid else ''}{perturb_erasure(pt, ref, worst) if pt else ''}
{frontier(dft, mid, pt, ref, worst, of(FAST_MIDPOINT)) if mid and pt else ''}
`erasure.png` shows every row's worst case against the reference, the relearning curves and the noise probe.
"""


FAST_MIDPOINT = 'pass-through-distill +midpoint 3, lr 3e-4'   # the ablation row chosen in figures/erasure_search/


def es_choice():
    "The screen's references, qualifying candidates and choice, checked against its rule as the JSON states it."
    refs, by, c = [x for x in ES['rows'] if x['checkpoint']], {x['name']: x for x in ES['rows']}, ES['chosen']
    ok = [x for x in ES['rows'] if not x['checkpoint'] and x['worst'] >= max(r['worst'] for r in refs) and x['compute'] <= ES['compute_limit']]
    claim([x['name'] for x in ok] == c['qualified'] and max(ok, key=lambda x: x['retain'])['name'] == c['name'],
          f"the erasure screen's choice follows its rule: {ES['rule']}")
    import forgetting.variants  # noqa: F401  (its rows join ABLATIONS)
    from forgetting.unlearn import ABLATIONS
    claim(c['row'] == FAST_MIDPOINT and ABLATIONS[FAST_MIDPOINT] == (c['method'], c['settings']),
          f'the screen chose the ablation row {FAST_MIDPOINT}, with its settings')
    return refs, ok, by[c['name']]


def erasure_screen():
    "The candidates screened under the attack suite on the validation suite (figures/erasure_search/), and the chosen row on the test photos."
    budget = ES['max_steps']
    worst = lambda v: suite_steps(v, budget)
    refs, ok, best = es_choice()
    by = {x['name']: x for x in ES['rows']}
    attacks = list(best['attacks'])
    fmt = lambda x: [x['name'], worst(x['worst']), *[worst(x['attacks'][a]) for a in attacks], f"{x['forget_gap']:.2f}",
                     f"{sg(x['retain'])} [{sg(x['retain_ci'][0])}, {sg(x['retain_ci'][1])}]", sg(x['per_task']['rain']),
                     sg(x['midpoint_gain']), f"{x['distance']:.4f}", '-' if x['compute'] is None else pct(x['compute'])]
    tab = table(['candidate', 'worst', *attacks, 'forget gap', 'retain change [95%]', 'rain', 'gain at the midpoint (dB)',
                 'distance', 'compute %'], [fmt(x) for x in ES['rows']])
    base, fast = by['pass-through-distill (the default)'], by['lr 3e-4']
    plain = [x for x in ES['rows'] if x['name'].startswith('+midpoint') and '--lr' not in x['options'] and 'steps' not in x['name']]
    claim([x['name'] for x in ES['rows'][-6:-3]] == ['lr 3e-4', '+midpoint 3, lr 1e-3', '+midpoint 1, lr 3e-4'], 'the three rows before the teacher check are the ablations')
    claim([x['name'] for x in ES['rows'][-3:]] == [*TEACHER, TEACHER['the default, then +perturb 0.3 from it']], 'the last three rows are the teacher check')
    claim(fast['worst'] <= base['worst'] + 10 and fast['distance'] > base['distance'], 'the larger rate alone moves further and does not resist')
    public = next(a for a in attacks if a.endswith('on public'))
    E = study('study_erasure')
    test_public = [E['rows'][k]['erasure']['relearn']['attacks'][public]['recovered'] for k in E['erasure']['references']]
    claim(all(r['attacks'][public] == r['worst'] for r in refs), f'the retrained models recover first under {public} on the validation photos')
    claim(all(t is None or t > r['attacks'][public] for t, r in zip(test_public, refs)), f'{public} is stronger on the validation photos')
    long = by['+midpoint 3, 180 steps']
    claim(all(x['worst'] < max(r['worst'] for r in refs) for x in plain), 'no midpoint weight or point reaches the references at the default rate')
    return f"""### Screened under the attack suite

{remake('erasure_search/')}

The relearning probe chose the midpoint term, and the suite then recovered it sooner (above). `benchmarks/erasure_search.py`
screens candidates under the whole suite on the validation suite instead (seed 0; the training photos, never the
test photos): {len(ES['rows']) - len(refs)} candidates and both retrained models, {budget} steps per attack, checked
every {ES['every']}. The retrained models' worst cases there are {joined([worst(r['worst']) for r in refs])} steps (under
`{public}`, whose photos the validation suite also crops: on these photos that attack is stronger than on the test
photos, where the retrained models need {joined([worst(t if t is not None else budget + 1) for t in test_public])} steps). The rule, as the JSON states it: {ES['rule']}. It was set after the first two rounds of
candidates (the table down to the localised perturbation with the midpoint term); the three rows after them are its
ablations and the last three the teacher check (below), both run after. {len(ok)} qualify ({joined([f"`{x['name']}`" for x in ok])}); the rule keeps
`{best['name']}` ({worst(best['worst'])} steps, retained {sg(best['retain'])} dB, compute {pct(best['compute'])}%).

{tab}

What the screen says:

- At the default's learning rate and step rule no weight of the midpoint term, no point along the line (`midpoint_at`)
  and no simulated relearning step lifts the worst case above {max(x['worst'] for x in plain)}
  steps. Run to {long['steps']} steps without the stop rule, the midpoint term reaches {worst(long['worst'])} steps at
  {pct(long['compute'])}% compute.
- The larger rate alone (`lr 3e-4`) moves the weights further from theta0 ({fast['distance']:.4f} against
  {base['distance']:.4f}), leaves {sg(fast['midpoint_gain'])} dB of {FORGET} gain at the midpoint and relearns in
  {worst(fast['worst'])} steps: distance without the midpoint term does not erase. With the midpoint term the same rate
  gives a distance of {best['distance']:.4f}, {sg(best['midpoint_gain'])} dB at the midpoint and {worst(best['worst'])}
  steps; the longer run at the default's rate reaches as many steps at a distance of {long['distance']:.4f}, so distance
  is not the whole of it. The choice between the qualifying candidates rests on retain changes whose intervals overlap.
{teacher_check()}
{fast_midpoint_test()}"""


TEACHER = {'the default, then +local perturb from it': '+local perturb, 130 steps, lr 0.001',   # from the unlearned model -> from theta0
           'the default, then +perturb 0.3 from it': '+perturb 0.3, 130 steps, lr 0.001'}


def teacher_check() -> str:
    "The perturbed start repaired toward the unlearned model (UNDO-style) against the same start from theta0 (figures/erasure_search/)."
    by, budget = {x['name']: x for x in ES['rows']}, ES['max_steps']
    refs, dft = [x for x in ES['rows'] if x['checkpoint']], by['pass-through-distill (the default)']
    pairs = [(by[t], by[z]) for t, z in TEACHER.items()]
    claim(all(t['first'] == dft['options'] and t['options'] == z['options'] for t, z in pairs), 'each teacher row repairs as its theta0 row, after the default')
    claim(all(t['worst'] < max(r['worst'] for r in refs) for t, _ in pairs), 'no teacher row reaches the slower retrained model')
    step = max(abs(t['worst'] - z['worst']) for t, z in pairs)
    far = max(abs(t['distance'] / z['distance'] - 1) for t, z in pairs)
    claim(step <= 2 * ES['every'] and far < 0.05, 'the teacher moves the worst case by two checks at most and the distance by under 5%')
    claim(all(t['compute'] > z['compute'] for t, z in pairs), 'the teacher rows cost more')
    row = lambda x: f"{suite_steps(x['worst'], budget)} steps, retained {sg(x['retain'])} [{sg(x['retain_ci'][0])}, {sg(x['retain_ci'][1])}] dB, compute {pct(x['compute'])}%"
    side = lambda t, z: f"{row(t)} (from theta0: {row(z)})"
    return f"""
**Noise, then distil from the unlearned model** (after UNDO, Lee et al. 2025, arXiv 2506.06278; the last three rows, run
after the rule was set). The default unlearns; then the perturbed start (the 10% most {FORGET}-specific weights all the
way to a fresh initialisation, or every weight 0.3 of the way) is repaired for {pairs[0][0]['steps'] - dft['steps']} steps
toward the unlearned model, which is its f0: the pass-through and distillation targets are that model's outputs. Beside
it, the same start and repair from theta0 toward the original. Localised: {side(*pairs[0])}; every weight:
{side(*pairs[1])}. Neither relearns as slowly as the slower retrained model
({suite_steps(max(r['worst'] for r in refs), budget)} steps; the faster: {suite_steps(min(r['worst'] for r in refs), budget)}): which model teaches moves the worst case by {step} steps at most and the distance to theta0 by {far * 100:.1f}% at
most. The unlearned model lies {dft['distance']:.4f} from theta0 while the perturbation moves
the weights about {pairs[1][0]['distance']:.2f}, and the two teachers give nearly the same targets (the default changes
the retained tasks by {sg(dft['retain'])} dB here and passes {FORGET} through), so the student is rebuilt from the same
start toward the same outputs. A likely reason resistance stays short of the retrained models', not tested here: they
never saw {FORGET} and still relearn it in {joined([suite_steps(r['worst'], budget) for r in refs])} steps, so relearning
can build on features that noise and rain need, and a repair that keeps noise and rain rebuilds them whichever model
teaches.
"""


def fast_midpoint_test() -> str:
    "The screen's choice on the test photos, seeds 0-2, under the suite (figures/study_erasure/)."
    E = study('study_erasure')
    e, ref, budget = E['erasure'], E['relearn_reference'], E['erasure']['max_steps']
    worst = lambda v: suite_steps(v, budget)
    of = lambda g: {r['seed']: r for r in rows_of(E, g)}
    fast, mid, dft = of(FAST_MIDPOINT), of(MIDPOINT), of('pass-through-distill')
    s = E['seeds'][FAST_MIDPOINT]
    vs_m = [paired(E, fast[k]['name'], E, mid[k]['name'], RT) for k in fast]
    vs_d = [paired(E, fast[k]['name'], E, dft[k]['name'], RT) for k in fast]
    refs = e['references']
    slow = {k: E['rows'][k]['relearn_worst'] for k in refs}
    beats = [k for k in fast if fast[k]['relearn_worst'] >= min(slow.values())]
    keep = all(verdict(E, r['name'])['met']['forget_gap'] for r in fast.values()) and s['retain_change']['mean'] >= TARGETS['retain_change'] \
        and all(r['retain_change'] >= RETAIN_FLOOR for r in fast.values())
    claim(all(fast[k]['relearn_worst'] >= mid[k]['relearn_worst'] for k in fast), 'the faster midpoint resists no less than midpoint 3 on every seed')
    met = sum(e['targets'][r['name']]['relearn'] for r in fast.values())
    ratios = [fast[k]['erasure']['distance'] / mid[k]['erasure']['distance'] for k in fast]
    ratio = (min(ratios), max(ratios))
    claim(met < len(fast) and all(v['high'] < 0 for v in vs_d), 'the faster midpoint misses the relearning target and costs the retained tasks against the default')
    claim(min(r['erasure']['distance'] for r in fast.values()) > 1.5 * max(r['erasure']['distance'] for r in mid.values()),
          'the larger rate takes the weights further from theta0')
    return f"""On the test photos (`{FAST_MIDPOINT}`, `figures/study_erasure/`, seeds {joined([str(k) for k in fast])}): worst case
{joined([f"{worst(r['relearn_worst'])} (under {joined(sorted(f'`{a}`' for a in worst_attacks([r])), 'or')})" for r in fast.values()])} steps,
against {joined([worst(mid[k]['relearn_worst']) for k in fast])} for the midpoint term at the default's rate and the retrained
models' {joined([worst(v) for v in slow.values()])}; {len(beats)} of {len(fast)} seeds {'is' if len(beats) == 1 else 'are'} no
faster than the faster retrained model and {met} than the slower one (the relearning target). Forget gap
{gap_range(s['forget_gap'])} dB, compute {pct(s['compute']['mean'])}%, retained tasks {mean_sd(s['retain_change'])} dB
({', '.join(ci(r['retain']) for r in fast.values())}; against the midpoint term of the same seed {', '.join(ci(v) for v in vs_m)};
against the default {', '.join(ci(v) for v in vs_d)}), gain at the midpoint {span([r['erasure']['line']['0.5'] for r in fast.values()], 2, True)} dB,
distance {span([r['erasure']['distance'] for r in fast.values()], 4)}, calibrated AUC
{', '.join(mia(r['erasure']['audit']['auc']) for r in fast.values())}. It {'keeps' if keep else 'misses'} the forget-gap and
retain targets (mean >= {TARGETS['retain_change']} dB, every seed >= {RETAIN_FLOOR} dB){' and' if keep else ', and'} meets the
weight-noise target on {sum(e['targets'][r['name']]['noise'] for r in fast.values())} of {len(fast)} seeds and the membership
target on {sum(e['targets'][r['name']]['membership'] for r in fast.values())} (the midpoint term at the default's rate:
{sum(e['targets'][r['name']]['noise'] for r in mid.values())} and {sum(e['targets'][r['name']]['membership'] for r in mid.values())}).
It does not become the default: a recipe that also erases would, if it kept the targets, and this one meets the
relearning target on {met} seeds; against the default it costs the retained tasks on every seed (every paired interval
below 0). Its weights end {ratio[0]:.1f} to {ratio[1]:.1f} times as far from theta0 as the midpoint term's of the same
seed, with {FORGET} still gone halfway back (`erasure_search.png`, right: worst case against distance on the validation
suite, coloured by the {FORGET} gain at the midpoint).
"""


def frontier(dft, mid, pt, ref, worst, fast=()) -> str:
    "Resistance against the retained tasks, the three recipes side by side."
    mean = lambda rows, f: sum(f(r) for r in rows) / len(rows)
    claim(max(r['relearn_worst'] for r in dft) < min(r['relearn_worst'] for r in mid), 'the midpoint term resists longer than the default')
    part = lambda name, rows: (f"{name} {joined([worst(r['relearn_worst']) for r in rows])} steps, retained "
                               f"{sg(mean(rows, lambda r: r['retain_change']))} dB")
    return (f"\nThe frontier under the suite (worst-case steps on seeds 0-2, mean retain change): "
            f"{part('the default', dft)}; {part('the midpoint term', mid)}; "
            + (f"{part('the midpoint term at 3x the rate', fast)}; " if fast else '') + f"{part('the perturbed start', pt)}; the slower "
            f"retrained model {worst(ref)} steps. What limits it: the attacks that recover the midpoint term first are the larger "
            f"learning rate and public hazy photos, not the forget set at the probe's rate (the dormant skill comes back by "
            f"other ways); the midpoint term removes {FORGET} "
            f"along the line to theta0 but not in the directions a larger step takes, and the rows that move furthest from "
            f"theta0 (the perturbed start) resist longest and lose the most.\n")


def worst_attacks(rows) -> set:
    "The attacks that recover each row in its worst-case number of steps."
    return {a for r in rows for a, c in r['erasure']['relearn']['attacks'].items() if c['recovered'] == r['relearn_worst']}


def midpoint_erasure(E, mid, ref, budget, worst) -> str:
    "The midpoint rows under the suite."
    beaten = worst_attacks(mid)
    return (f"- **The midpoint term under the suite** (`{MIDPOINT}`, seeds {joined([str(r['seed']) for r in mid])}): worst "
            f"{joined([worst(r['relearn_worst']) for r in mid])} steps"
            + (f" (under {joined(sorted(f'`{a}`' for a in beaten))})" if beaten else '')
            + f", against the reference's {worst(ref)}; gain at the midpoint {span([r['erasure']['line']['0.5'] for r in mid], 2, True)} dB, "
            f"calibrated AUC {', '.join(mia(r['erasure']['audit']['auc']) for r in mid)}.\n")


def perturb_erasure(pt, ref, worst) -> str:
    "The perturbed start under the suite."
    return (f"- **The perturbed start under the suite** (seeds {joined([str(r['seed']) for r in pt])}): worst "
            f"{joined([worst(r['relearn_worst']) for r in pt])} steps against the reference's {worst(ref)}, "
            f"retain change {', '.join(ci(r['retain']) for r in pt)} dB.\n")


def rs_row(name): return next(x for x in RS['rows'] if x['name'] == name)
def rs_table(keep=lambda x: True):
    fmt = lambda x: [x['name'], steps(x['relearn'], RS['max_steps']), f"{x['forget_gap']:.2f}",
                     f"{sg(x['retain'])} [{sg(x['retain_ci'][0])}, {sg(x['retain_ci'][1])}]", sg(x['per_task']['rain']),
                     '-' if x['compute'] is None else pct(x['compute']), x['steps'] or '-']
    return table(['candidate', 'relearn steps', 'forget gap', 'retain change [95%]', 'rain', 'compute %', 'steps'], [fmt(x) for x in RS['rows'] if keep(x)])

def relearn_step():
    g = 'pass-through-distill +relearn step'
    rs, s = rows_of(REL, g), REL['seeds'][g]
    long = REL['rows']['pass-through-distill +relearn step, 300 steps']
    size = re.search(r'relearn_step=([\d.e-]+)', rs[0]['command']).group(1)
    dft = {x['seed']: x for x in rows_of(S, 'pass-through-distill')}
    vs = [paired(REL, x['name'], S, dft[x['seed']]['name'], RT) for x in rs]
    base, base300, retr = rs_row('pass-through-distill (the default)'), rs_row('default, 300 steps'), rs_row('retrained')
    claim(all(x['relearn_steps'] > dft[x['seed']]['relearn_steps'] for x in rs), 'the relearn step slows relearning on every seed')
    claim(all(x['compute'] > TARGETS['compute'] for x in rs), 'the relearn step misses the compute target')
    claim(all(x['mia_calibrated']['low'] > 0.5 for x in rs), "every relearn-step seed's membership interval excludes 0.5")
    return f"""### A sharpness-aware term: the simulated relearning step

{remake('relearn_search/', 'study_relearn/')}

A sharpness-aware term slows relearning but does not reach the retrained model. `--set relearn_step={size}` (after Fan et
al., ICML 2025) also takes the pass-through term after a simulated relearning move (every weight moved ten attacker
steps against the sign of the relearning gradient). Screened on the validation suite (seed 0, relearning checked every
{RS['every']} steps: the default relearns in {base['relearn']} steps there, {base300['steps']} steps of the default in
{base300['relearn']}, the retrained model in {retr['relearn']}), then run on the test photos (seeds {seed_list(REL, g)}):
relearning takes {joined([str(x['relearn_steps']) for x in rs])} steps (the default:
{joined(sorted({str(x['relearn_steps']) for x in dft.values()}))} on every seed), the forget gap is
{gap_range(s['forget_gap'])} dB and the retained tasks stay near the default of the same seed (paired:
{', '.join(ci(v) for v in vs)} dB). It doubles the passes per step, so it costs {pct(s['compute']['mean'])}% of retraining
(target {TARGETS['compute'] * 100:g}%); {long['stop_step']} steps of it ({pct(long['compute'])}%, seed {long['seed']})
still relearn in {long['relearn_steps']}, and the calibrated membership AUC stays far from 0.5 (seeds
{seed_list(REL, g)}: {', '.join(mia(x['mia_calibrated']) for x in rs)}). The compute target and the retrained model's
relearning cannot both be met this way at this scale.

<details><summary>The relearning screen on the validation suite</summary>

{rs_table()}

</details>
"""

BLOCKS = ['encoder', 'prompts', 'decoder', 'output', 'latent']
def selective():
    p = SEL['diagnostics']['projection']
    cov, l1 = p['coverage'], p['retained_l1']
    proj, nd_proj = SEL['rows']['pass-through-distill +projection'], SEL['rows']['pass-through-distill -distill +projection']
    vs_nd = paired(SEL, 'pass-through-distill -distill +projection', S, 'pass-through-distill -distill', RT)
    vs_d = paired(SEL, 'pass-through-distill +projection', S, f"pass-through-distill seed {proj['seed']}", RT)
    n = int(re.search(r'retain_directions=(\d+)', proj['command']).group(1))
    claim(n == p['directions'], 'the projection row used the diagnosed number of directions')
    only = {b: SEL['rows'][f'pass-through-distill, only {b}'] for b in BLOCKS}
    forgot = [b for b in BLOCKS if only[b]['forget_gap'] <= TARGETS['forget_gap']]
    claim(forgot == BLOCKS[:4], 'encoder, prompts, decoder and output each switch haze off alone; the latent block cannot')
    within = [b for b in forgot if only[b]['compute'] <= TARGETS['compute']]
    claim(within == ['decoder'], 'only the decoder does it within the compute target')
    others = {pct(only[b]['compute']) for b in forgot if b not in within}
    claim(len(others) == 1 and all(only[b]['stop_reason'] == 'step limit' for b in forgot if b not in within), 'the others run to the step limit')
    rl = {only[b]['relearn_steps'] for b in forgot}
    claim(len(rl) == 1, 'the blocks that forget relearn in the same number of steps')
    mods = {b: re.search(r"update_only=(\[.*?\])", only[b]['command']).group(1) for b in BLOCKS}
    tab = table(['module set free', 'modules (`update_only`)', 'forget gap', 'retain change [95%]', 'compute %', 'relearn steps', 'stop'],
                [[b, f"`{mods[b]}`", f"{only[b]['forget_gap']:.2f}", ci(only[b]['retain']), pct(only[b]['compute']),
                  steps(only[b]['relearn_steps']) + (' (never forgot)' if only[b]['relearn_steps'] == 0 else ''), only[b]['stop_reason']] for b in BLOCKS])
    return f"""### Selective updates: gradient projection and one block at a time

{remake('study_selective/')}

**Gradient projection holds nothing beyond first order.** `--set retain_directions={n}` (after Orthogonal Gradient
Descent, Farajtabar et al. 2020, and GPM, Saha et al. 2021) makes every step orthogonal to {n} per-sample gradients of
the retained loss on proxy-retain pairs at theta0 (seed {proj['seed']}). At theta0 those directions hold
{100 * cov['other_images']:.0f}% of the gradient norm of other images' retained loss and {100 * cov['pass_through']:.0f}%
of the pass-through term's, yet without the distillation the retained tasks change by {ci(nd_proj['retain'])} dB, the same as
the plain `-distill` row (paired: {ci(vs_nd)} dB), and with it the row lands on the default of its seed ({ci(vs_d)} dB).
Over a short run of pass-through without the distillation the retained L1 of the basis's own images rises with the
projection as without it ({l1['original']['basis_images']:.4f} to {l1['with projection']['basis_images']:.4f}, and to
{l1['without projection']['basis_images']:.4f}): L1 gradients change as soon as the weights move, and Adam's steps are
large where the gradients are small.

**{FORGET.capitalize()} is not in one block of PromptIR.** The default with one block free (`--set update_only='[...]'`,
module paths; seed {only['encoder']['seed']}): the encoder, the prompt modules, the decoder, or just the last refinement
block with the output convolution each switch {FORGET} off alone (forget gap
{span([only[b]['forget_gap'] for b in forgot])} dB, retained tasks {span([only[b]['retain_change'] for b in forgot], 2, True)}
dB), the latent block cannot (gap {only['latent']['forget_gap']:.2f} dB). Only the decoder does it within the compute
target ({pct(only['decoder']['compute'])}%); the others run to the step limit ({others.pop()}%). Every one that forgets
relearns {FORGET} in {rl.pop()} steps, like the unrestricted default.

{tab}
"""

def perturb():
    g = 'pass-through-distill +perturb 0.3'
    rs, s = rows_of(PER, g), PER['seeds'][g]
    p2 = PER['rows']['pass-through-distill +perturb 0.2']
    frac2 = re.search(r'perturb=([\d.]+)', p2['command']).group(1)
    cmd = rs[0]['command']
    frac, lr, n = (re.search(rf'{k}=([\d.e-]+)', cmd).group(1) for k in ('perturb', 'lr', 'steps'))
    flags = ' '.join(f'--set {m}' for m in re.findall(r'--set (\S+)', cmd))
    dft = {x['seed']: x for x in rows_of(S, 'pass-through-distill')}
    vs = [paired(PER, x['name'], S, dft[x['seed']]['name'], RT) for x in rs]
    claim(all(x['relearn_steps'] is None for x in rs), 'the perturbed start does not relearn within the limit on any seed')
    rain = [-task_change(PER, x['name'], 'rain') for x in rs]
    claim(all(min(RT, key=lambda t: task_change(PER, x['name'], t)) == 'rain' for x in rs), 'rain loses the most')
    second = [sorted(RT, key=lambda t: task_change(PER, x['name'], t))[1] for x in rs]
    claim(len(set(second)) == 1, 'one task loses second most on every seed')
    low_noise = sorted(rs, key=lambda x: max(abs(task_change(PER, x['name'], t)) for t in ('noise15', 'noise25')))
    noise_max = lambda x: max(abs(task_change(PER, x['name'], t)) for t in ('noise15', 'noise25'))
    screen = [x for x in RS['rows'] if x['name'].startswith('+perturb') and 'lr' not in x['name']]
    short = sorted([x for x in screen if x['steps'] == int(n)], key=lambda x: float(x['name'].split()[1].rstrip(',')))
    claim([x['retain'] for x in short] == sorted([x['retain'] for x in short], reverse=True), 'the more of theta0 is given up, the more the retained tasks lose')
    long = rs_row(f'+perturb {frac}, 600 steps')
    return f"""### Shrink and perturb

{remake('relearn_search/', 'study_perturb/')}

**Shrink and perturb reaches the retrained model's relearning, and costs the retained tasks.** `--set perturb={frac}`
(after noise-then-distil, Lee et al. 2025, and shrink and perturb, Ash & Adams 2020) starts the default's loop {frac} of
the way from theta0 to a fresh initialisation, and its own terms rebuild noise and rain from the original's outputs
(ablation row `{g}`: {n} steps at lr {lr}, the compute target's budget; on the command line
`forgetting unlearn --checkpoint CKPT --out OUT.pt {flags}`). The fraction, length and learning rate were screened on
the validation suite: within {TARGETS['compute'] * 100:g}% of retraining's compute, the more of theta0 is given up, the
longer relearning takes and the more the retained tasks lose; a longer repair ({long['steps']} steps) brings the
retained tasks back and the relearning with them ({long['relearn']} steps). On the test photos (seeds
{seed_list(PER, g)}) it is the first recipe that relearns {FORGET} no faster than the retrained model: not within
{RELEARN['max_steps']} steps on every seed, forget gap {gap_range(s['forget_gap'])} dB, compute
{pct(s['compute']['mean'])}%, calibrated membership {', '.join(mia(x['mia_calibrated']) for x in rs)}. The retained
tasks change by {sg(s['retain_change']['mean'])} ± {s['retain_change']['std']:.2f} dB
({', '.join(ci(x['retain']) for x in rs)}; against the default of the same seed {', '.join(ci(v) for v in vs)}), rain
the most ({-min(rain):.1f} to {-max(rain):.1f} dB) with {second[0]} next, while noise15 and noise25 stay within
{noise_max(low_noise[-2]):.2f} dB on seeds {joined([str(x['seed']) for x in sorted(low_noise[:-1], key=lambda x: x['seed'])])}
(seed {low_noise[-1]['seed']}: {noise_max(low_noise[-1]):.2f} dB). {frac2} of the way (seed {p2['seed']}) relearns in
{p2['relearn_steps']} steps and changes the retained tasks by {ci(p2['retain'])} dB. What limits it: the proxy-retain distillation rebuilds from
the original's outputs features that {FORGET} can use again, so the repair that keeps rain is the repair that brings
{FORGET} back within reach.

The screen on the validation suite (seed 0):

{rs_table(lambda x: x['name'].startswith(('+perturb', 'retrained', 'pass-through-distill')))}
"""

def midpoint():
    E = study('study_erasure')
    rs, s = rows_of(E, MIDPOINT), E['seeds'][MIDPOINT]
    dft = {x['seed']: x for x in rows_of(E, 'pass-through-distill')}
    per = {x['seed']: x for x in rows_of(PER, 'pass-through-distill +perturb 0.3')}
    vs_d = [paired(E, x['name'], E, dft[x['seed']]['name'], RT) for x in rs]
    vs_p = [paired(E, x['name'], PER, per[x['seed']]['name'], RT) for x in rs]
    screen, ref_steps = {w: rs_row(f'+midpoint {w}') for w in (1, 2, 3)}, rs_row('retrained')['relearn']
    claim(screen[1]['retain'] > screen[2]['retain'] > screen[3]['retain'], 'a heavier midpoint term loses more')
    claim(screen[1]['relearn'] < screen[2]['relearn'] < ref_steps and screen[3]['relearn'] is None,
          'only the weight 3 resists as long as the retrained model on the validation suite')
    claim(all(v['mean'] > 0 for v in vs_p), "the midpoint rows keep more than the perturbed start's, every seed")
    both = all(verdict(E, x['name'])['met']['forget_gap'] and verdict(E, x['name'])['met']['retain_change'] for x in rs)
    claim(both and s['retain_change']['mean'] >= TARGETS['retain_change'], 'the midpoint rows meet the gap and retain targets')
    claim(not any(verdict(PER, x['name'])['met']['retain_change'] for x in per.values()), 'the perturbed start misses the retain target')
    m1 = E['rows'].get('pass-through-distill +midpoint 1')
    one = '' if m1 is None else (f" `+midpoint 1` (seed {m1['seed']}) changes the retained tasks by {ci(m1['retain'])} dB "
                                 f"and relearns in {steps(m1['relearn_steps'])} steps.")
    return f"""### The midpoint term

{remake('relearn_search/', 'study_erasure/')}

`--set midpoint=3` (after Siddiqui et al., "From Dormant to Deleted", NeurIPS 2025: how fast a model relearns follows
how near it stays to theta0 and whether the forgotten skill is back along the line to theta0) adds the default's
pass-through term at the midpoint theta0 + (theta - theta0) / 2, so that {FORGET} is gone halfway back too; it costs one
more image pass per forget item and step. Its weight was screened on the validation suite: 1, 2 and 3 relearn in
{joined([steps(screen[w]['relearn']) for w in (1, 2, 3)])} steps (the retrained model: {ref_steps}) and change the
retained tasks by {joined([sg(screen[w]['retain']) for w in (1, 2, 3)])} dB; only 3 resists as long as the retrained
model, and it is the ablation row `{MIDPOINT}` (`figures/study_erasure/`). On the test photos (seeds
{seed_list(E, MIDPOINT)}): forget gap {gap_range(s['forget_gap'])} dB, compute {pct(s['compute']['mean'])}% (over the
{TARGETS['compute'] * 100:g}% target), relearning probe {joined([steps(x['relearn_steps']) for x in rs])} steps, retained
tasks {mean_sd(s['retain_change'])} dB ({', '.join(ci(x['retain']) for x in rs)}; against the default of the same seed
{', '.join(ci(v) for v in vs_d)}; against the perturbed start of the same seed {', '.join(ci(v) for v in vs_p)}),
calibrated membership {', '.join(mia(x['mia_calibrated']) for x in rs)}. It meets the forget-gap and retain targets on
every seed, where the perturbed start of the same resistance on the probe missed the retain target on every seed.{one}
The relearning attack suite below says how much of this resistance holds when the attack changes: less than the probe
suggests.

The screen on the validation suite (seed 0):

{rs_table(lambda x: x['name'].startswith(('+midpoint', '+local', 'retrained', 'pass-through-distill')))}
"""

def erasure_full():
    "The whole relearning suite on seed 0 of the default and the chosen row, beside both retrained models (figures/study_erasure_full/)."
    from forgetting.erasure import ATTACK_SUITES
    F, E = study('study_erasure_full'), study('study_erasure')
    e, ref, budget = F['erasure'], F['relearn_reference'], F['erasure']['max_steps']
    worst = lambda v: suite_steps(v, budget)
    tab, attacks = erasure_table(F)
    quick = [a.name for a in ATTACK_SUITES['quick']]
    steps = lambda R, k: {a: c['recovered'] for a, c in R['rows'][k]['erasure']['relearn']['attacks'].items()}
    attacked = [k for k, r in F['rows'].items() if 'erasure' in r]
    claim(e['suite'] == 'full' and attacks == [a.name for a in ATTACK_SUITES['full']], 'the report ran the whole suite')
    claim(all(steps(F, k)[a] == steps(E, k)[a] for k in attacked for a in quick), "the quick suite's attacks give the same steps in both runs")
    refs, of = e['references'], lambda g: next(k for k in e['targets'] if F['rows'][k]['recipe'] == g)
    dft, fm = of('pass-through-distill'), of(FAST_MIDPOINT)
    rw = lambda R, k: R['rows'][k]['relearn_worst']
    by = lambda *ks: joined(sorted({f'`{a}`' for a in worst_attacks([F['rows'][k] for k in ks])}))   # first to recover
    recovered = lambda k: sum(v is not None for v in steps(F, k).values())
    others = [k for k in E['erasure']['targets'] if E['rows'][k].get('recipe') == FAST_MIDPOINT and k != fm]
    claim(all(rw(E, k) < ref for k in others), "the chosen row's other seeds relearn faster than the reference already under the quick suite")
    claim(all(rw(F, k) < rw(E, k) for k in refs), 'both retrained models relearn sooner under the whole suite')
    claim(not e['targets'][fm]['relearn'], 'the chosen row misses the relearning target under the whole suite on seed 0')
    retained = [a for a in attacks if a.endswith('on retained')]
    claim(all(steps(F, dft)[a] is None for a in retained), 'no attack on the retained tasks recovers the default')
    strongest = worst_attacks([F['rows'][k] for k in [*refs, fm]])
    claim(all(a.endswith('on public') and a not in quick for a in strongest),
          'public hazy photos at rates the quick suite lacks recover the retrained models and the chosen row first')
    return f"""### The whole suite: eighteen attacks

{remake('study_erasure_full/')}

`--erasure full` attacks with Adam at 1e-4, 2e-4 and 1e-3 and with SGD at 1e-3, 1e-2 and 3e-2, each on the forget set,
on public hazy photos and on the retained tasks ({len(attacks)} attacks, {budget} steps each, checked every 10; the quick
suite's {len(quick)} are among them and give the same steps as in the quick run). It ran on seed 0 of the default and of
the chosen row (`{FAST_MIDPOINT}`), with both retrained models:

{tab}

- **The reference falls.** The retrained models relearn in {joined([worst(rw(F, k)) for k in refs])} steps under the
  whole suite (the quick suite: {joined([worst(rw(E, k)) for k in refs])}), under {by(*refs)}, which the quick suite
  lacks; `relearn_reference` is {worst(ref)} steps
  (quick: {worst(E['relearn_reference'])}).
- **The default** relearns in {worst(rw(F, dft))} steps (under {by(dft)}); {recovered(dft)} of the {len(attacks)}
  attacks recover it; none of the {len(retained)} on the retained tasks does.
- **The chosen row, seed 0,** relearns in {worst(rw(F, fm))} steps (under {by(fm)}; quick: {worst(rw(E, fm))}), and
  {recovered(fm)} of the {len(attacks)} attacks recover it: it misses the relearning target under the whole suite too.
  Its seeds {joined([str(E['rows'][k]['seed']) for k in others])} relearn in {joined([worst(rw(E, k)) for k in others])}
  steps under the quick suite's attacks, which the whole suite contains, so in fewer than {worst(ref)} under it: the
  relearning target is missed on every seed under either suite. Public hazy photos at the larger rates, which the
  quick suite does not try, recover the retrained models and the chosen row first.
"""


def every_row():
    "Every row of the study in one report, each under the attack suite (figures/study_all/)."
    e, ref = ALL['erasure'], ALL['relearn_reference']
    budget, et, rows = e['max_steps'], e['targets'], ALL['rows']
    worst = lambda v: suite_steps(v, budget)
    three = {x['model'] for x in ALL['targets'] if x['psnr_and_compute']}
    groups = {}
    for k in et: groups.setdefault(rows[k].get('recipe', k), []).append(k)
    slowest = lambda g: max(rows[k]['relearn_worst'] for k in groups[g])
    count = lambda ks, f: f"{sum(map(f, ks))}/{len(ks)}"
    per_seed = lambda ks: ', '.join(worst(rows[k]['relearn_worst']) for k in ks)
    retained = lambda ks: sg(sum(rows[k]['retain_change'] for k in ks) / len(ks))
    line = lambda g, ks: [f'`{g}`', per_seed(ks), retained(ks), f"{100 * max(rows[k]['compute'] for k in ks):.1f}",
                          count(ks, lambda k: k in three), count(ks, lambda k: et[k]['relearn']),
                          count(ks, lambda k: et[k]['membership']), count(ks, lambda k: et[k]['noise'])]
    ranked = sorted(groups, key=lambda g: (-slowest(g), g))
    tab = table(['recipe', 'worst case per seed', 'mean retain change (dB)', 'compute % (most)', 'gap, retain, compute',
                 'relearning', 'membership', 'weight noise'], [line(g, groups[g]) for g in ranked])
    resist = [k for k in et if et[k]['relearn']]
    kept = max(rows[k]['relearn_worst'] for k in three)
    every = [k for k in et if k in three and all(et[k].values())]
    claim(all('relearn_worst' in rows[k] for k in et) and ref is not None, 'every row carries relearn_worst, the report relearn_reference')
    claim(set(ALL['seeds']['pass-through-distill']['rows']) <= three, 'the default meets the three targets on every seed')
    claim(not every, 'no row meets every target')
    top = ranked[:3]
    kept_haze = [k for k in et if rows[k]['relearn_worst'] == 0]
    claim(all(not x['met']['forget_gap'] for x in ALL['targets'] if x['model'] in kept_haze), 'a worst case of 0 is a row that never forgot')
    return f"""### Every row under the attack suite

{remake('study_all/')}

{len(et)} unlearned rows on the study pair in one report: every recipe and ablation row of the library and the
retain-data baselines, on the seeds the study runs, each under the attack suite above (quick, {budget} steps per
attack), so every row carries `relearn_worst`; `relearn_reference` (the slower retrained model) is {worst(ref)} steps.
{len(three)} rows meet the forget-gap, retain and compute targets (the default on its
{n_seeds(ALL, 'pass-through-distill')} seeds among them); under the suite the slowest of them relearns in {worst(kept)}
steps. {f"{len(resist)} rows relearn" if resist else 'No row relearns'} as slowly as the slower retrained
model{(': ' + joined([f'`{k}`' for k in resist])) if resist else ''}; the slowest recipes are
{joined([f"`{g}` ({per_seed(groups[g])} steps, retained {retained(groups[g])} dB)" for g in top])}.
No row meets every target. {joined([f'`{k}`' for k in kept_haze])} never forgot haze (forget gap
{joined([f"{rows[k]['forget_gap']:.2f}" for k in kept_haze])} dB): its worst case is 0 steps. Each recipe's rows, the
slowest to relearn first (the seeds in order; the counts are rows meeting each target):

{tab}

![Forget gap against retain change with 95% intervals, and relearning against compute](figures/study_all/forgetting_frontier.png)

`erasure.png` (in the same folder) shows every row's worst case against the reference.
"""

def adair():
    g = 'pass-through-distill'
    rs, s = rows_of(ADA, g), ADA['seeds'][g]
    claim(all(verdict(ADA, x['name'])['psnr_and_compute'] for x in rs), 'the default meets the three targets on AdaIR-tiny on every seed')
    claim(all(x['retain']['high'] > 0 for x in rs), "no AdaIR seed's interval lies below 0")
    within = all(x['mia_calibrated']['low'] <= 0.5 <= x['mia_calibrated']['high'] for x in rs)
    claim(within, 'AdaIR membership intervals hold 0.5')
    rl = {x['relearn_steps'] for x in rs}
    claim(len(rl) == 1 and ADA['rows']['retrained']['relearn_steps'] is None, 'AdaIR relearns in one number of steps; its retrained model not')
    return f"""## The default on AdaIR-tiny

{remake('study_adair/')}

Not tuned to one architecture: the same options on an AdaIR-tiny pair trained with the study recipe
(`{ADA['setup']['original']}`, `{ADA['setup']['retrained']}`; seeds {seed_list(ADA, g)}): forget gap
{gap_range(s['forget_gap'])} dB, retain change {sg(s['retain_change']['mean'])} ± {s['retain_change']['std']:.2f} dB
(seed {rs[0]['seed']}: {ci(rs[0]['retain'])}; no seed's interval lies below 0), compute {pct(s['compute']['mean'])}%: the
three targets hold on every seed. Its calibrated membership AUC (seeds {seed_list(ADA, g)}:
{', '.join(mia(x['mia_calibrated']) for x in rs)}) is within the retrained model's
{ADA['rows']['retrained']['mia_calibrated']['auc']:g} here, but it still relearns {FORGET} in {rl.pop()} steps on every
seed (the retrained model not within {RELEARN['max_steps']}).
"""

def robustness():
    rec = {r['name']: r for r in ROB['recipes']}
    oth = {r['name']: r for r in ROB['other_attacks']}
    why = ROB['why']
    pur = ROB['purification']
    B = ROB['protocol']['attack']['budgets']
    o = ROB['original']['psnr']['overall']
    meta = ROB['original']['meta']
    size = re.search(r'size=(\d+)', ROB['protocol']['suite']).group(1)
    n = rec['published-old']['change']['clean']['n']
    strong = B[-1]
    tab = table(['model', 'what', 'clean'] + [f'PGD-{meta["steps"]} {b}' for b in B] + [f'noise15 at {strong}'],
                [[f'`{k}`', r['what'] if r['settings'] else f"the default's unlearned model (forgot {FORGET}), attacked as it is", ci(r['change']['clean'])] + [ci(r['change'][b]) for b in B] + [sg(r['change'][strong]['tasks']['noise15']['mean'])]
                 for k, r in rec.items()], ['---', '---'] + ['--:'] * (len(B) + 2))
    adv = [k for k, r in rec.items() if r['settings'] and r['settings']['adv_fraction'] > 0]
    mid = B[1]
    bought = [rec[k]['change'][mid]['tasks'][t]['mean'] for k in adv for t in ('rain', 'haze')]
    claim(all(rec[k]['change'][strong]['tasks']['noise15']['mean'] < -5 for k in adv), 'noise15 collapses at 8/255 for every adversarial recipe')
    claim(all(x['low'] <= 0 <= x['high'] for x in rec['clean-control']['change'].values()), 'fine-tuning alone changes nothing')
    claim(not any(r['target']['met'] for r in rec.values()), 'the fine-tuning target is missed')
    for r in rec.values(): claim(r['target']['clean_cost_ok'] == (r['target']['clean_cost'] <= ROBUST['clean_cost']), 'the clean-cost limit')
    low = rec['low-lr-budgets']['change']
    claim(low['clean']['mean'] > -ROBUST['clean_cost'] and low[B[0]]['low'] > 0 and low[mid]['low'] > 0, 'low-lr-budgets lifts 2 and 4/255')
    w = lambda k: why[k]['noise15']
    sq_n = oth['original']['square_change']['n']
    po = oth['published-old']
    claim(all(oth[k]['square_change']['low'] <= 0 <= oth[k]['square_change']['high'] and oth[k]['cw_ratio']['low'] <= 1 <= oth[k]['cw_ratio']['high']
              for k in ('published-old', 'low-lr-budgets')), 'no recipe changes Square or C&W measurably')
    u, uo = rec['unlearned-default']['change'], oth['unlearned-default']
    claim(all(u[b]['low'] > 0 for b in B[1:]) and all(u[b]['tasks']['rain']['mean'] > 0 for b in B), 'the unlearned model is more robust on rain and overall at 4 and 8/255')
    claim(min(TASKS, key=lambda t: u['clean']['tasks'][t]['mean']) == FORGET, "the unlearned model's clean loss is the forgotten haze")
    prow = {(r['model'], r['t_star'], r['defence']): r for r in pur['rows']}
    ts = sorted({r['t_star'] for r in pur['rows'] if r['model'] == 'original'})
    tr = [prow[('original', t, 'transfer')] for t in ts]
    ad = [prow[('original', t, 'adaptive')] for t in ts]
    claim(all(prow[(m, t, 'adaptive')]['psnr'][b] < prow[(m, t, 'bpda')]['psnr'][b] for (m, t, d) in prow if d == 'adaptive' for b in B),
          'PGD through the purifier is stronger than BPDA at every budget')
    sq = {r['model']: r for r in pur['square']}
    pf = {d: prow[('purified-finetune', ts[-1], d)] for d in ('none', 'transfer', 'adaptive', 'bpda')}
    pwhy = {r['model']: r['tasks'] for r in pur['why']}
    cost_pgd = [r['attack_seconds_per_image'] for r in rec.values()]
    sq_s = [r['square_seconds_per_image'] for r in oth.values()]
    cw_s = [r['cw_seconds_per_image'] for r in oth.values()]
    ad_s = [r['attack_seconds_per_image'] for r in ad]
    ft = [rec[k]['finetune_seconds'] for k in adv if 'start' not in rec[k]['settings']]
    passes = {rec[k]['finetune_passes'] for k in adv if 'start' not in rec[k]['settings']}
    ft_steps = {rec[k]['settings']['steps'] for k in adv}
    claim(len(passes) == 1 and len(ft_steps) == 1, 'the adversarial recipes share one length')
    return f"""## Robustness: attacks and defences on the study pair's original

{remake('robust_finetune/')}

`benchmarks/robust_finetune.py` attacks the study pair's original, three adversarially or cleanly fine-tuned copies of
it, the default's unlearned model and the original behind a diffusion purifier. PGD-{meta['steps']} (L-inf, step
budget/4, L1 to the ground truth) on the bundled test suite at {size}x{size} ({n} images); the original scores
{o['clean']:.2f} dB clean and {' / '.join(f"{o[b]:.2f}" for b in B)} dB at {' / '.join(b.split('/')[0] for b in B)} /255.
PSNR change against the original, paired per image, mean over tasks [95% bootstrap over images]; one seed
({meta['seed']}) per row, so the spread over seeds is not measured yet:

{tab}

- **The fine-tuning target is missed** (attacked PSNR up on every task at {', '.join(b.split('/')[0] for b in B)} /255
  with at most {ROBUST['clean_cost']} dB clean cost). Fine-tuning alone changes nothing (`clean-control`: every interval
  holds 0); the adversarial examples buy rain and {FORGET} ({span(bought, 1, True)} dB at {mid}) and break noise15 at
  {strong}. The library's lower learning rate with the evaluation's budgets mixed in (`low-lr-budgets`) removes the
  clean cost and lifts {B[0].split('/')[0]} and {mid.split('/')[0]} /255 with intervals above zero, but noise15 still
  collapses at {strong}.
- **Why noise15 collapses:** on the small suite the tuned model's output under PGD at {strong} is much darker than the
  original's (mean brightness error {sg(w('published-old')['shift_attacked'], 1)}/255 for `published-old`,
  {sg(w('low-lr-budgets')['shift_attacked'], 1)}/255 for `low-lr-budgets`, against {sg(w('original')['shift_attacked'], 1)}/255;
  {100 * w('published-old')['low_share']:.0f}% and {100 * w('low-lr-budgets')['low_share']:.0f}% of the error energy below
  a 9x9 blur against {100 * w('original')['low_share']:.0f}%). Training on attacked rain and {FORGET} teaches the shared
  weights to subtract a bright, smooth layer, and an {strong} perturbation of a noise15 input (itself about half the
  noise's level) switches that on. Twice the length does not change that (`low-lr-budgets-x2`:
  {sg(rec['low-lr-budgets-x2']['change'][strong]['tasks']['noise15']['mean'])} dB on noise15 at {strong}). Not tried
  yet: budgets per task, a consistency term to the original's clean output.
- **The other attacks** ({sq_n} images, one crop per photo and task): no recipe changes Square-{ROBUST['square_queries']}
  at {strong} or the C&W-L2 norm for -{ROBUST['cw_drop']:g} dB measurably (`published-old`:
  {ci(po['square_change'])} dB, norm ratio {po['cw_ratio']['ratio']:.2f} [{po['cw_ratio']['low']:.2f}, {po['cw_ratio']['high']:.2f}]).
- **Forgetting does not make the model more fragile:** the unlearned model is more robust on rain and overall at
  {mid.split('/')[0]} and {strong}; its clean loss is the forgotten {FORGET} ({sg(u['clean']['tasks'][FORGET]['mean'], 1)} dB).
  Square-{ROBUST['square_queries']} does not tell it from the original ({ci(uo['square_change'])} dB); C&W needs a
  {uo['cw_ratio']['ratio']:.2f}x [{uo['cw_ratio']['low']:.2f}, {uo['cw_ratio']['high']:.2f}] larger L2 norm for
  -{ROBUST['cw_drop']:g} dB on it, partly because its {FORGET} output (a pass-through) has little left to lose.
- **Diffusion purification** (`forgetting.purify`; the bundled `{pur['purifier']}`, {CARD['purifier-dim16']['steps']}
  steps on the training photos): at t* = {' / '.join(f'{t:g}' for t in ts)} it costs
  {' / '.join(f"{-r['change']['clean']['mean']:.1f}" for r in tr)} dB clean. PGD made on the restorer alone makes it
  look robust at {strong} ({' / '.join(ci(r['change'][strong]) for r in tr)} dB), but PGD through the purifier takes that
  back ({' / '.join(ci(r['change'][strong]) for r in ad)} dB) and is stronger than BPDA at every budget. At this size the
  purifier buys nothing against an adaptive attacker. Square-{ROBUST['square_queries']} behind it (t* = {sq['original']['t_star']:g})
  scores {ci(sq['original']['change'])} dB below the undefended original under the same attack: the clean cost
  outweighs what it removes.
- **Purification followed by fine-tuning** (`forgetting.purify.finetune_purified`, `purified-finetune`,
  {pf['none']['finetune_passes']} image passes, {sq_n} images, t* = {ts[-1]:g};
  {untraced('300 steps at lr 2e-4 on purified training patches')}): behind the purifier it gains on rain and {FORGET}
  but loses noise15 (clean {sg(pf['transfer']['change']['clean']['tasks']['noise15']['mean'], 1)} dB against
  {sg(prow[('original', ts[-1], 'transfer')]['change']['clean']['tasks']['noise15']['mean'], 1)} for the original behind
  the purifier); under the adaptive PGD at {strong} it is {ci(pf['adaptive']['change'][strong])} dB below the undefended
  original. Purification removes the noise an all-in-one model uses to tell noise from {FORGET}, and the tuned restorer
  subtracts a bright layer from every purified image (its purified noise15 outputs are
  {-pwhy['purified-finetune']['noise15']['purified_shift']:.1f}/255 too dark, the original's
  {-pwhy['original']['noise15']['purified_shift']:.1f}/255).
- **Cost** {untraced('on one CPU thread')}: PGD-{meta['steps']} {meta['seconds_per_image']:.1f} s per image and budget on
  the original ({meta['seconds_per_image_pass']:.2f} s per forward+backward pass; {span(cost_pgd, 1)} s on the tuned
  copies), Square-{ROBUST['square_queries']} {span(sq_s, 0)} s, C&W {span(cw_s, 0)} s, PGD-{meta['steps']} through the
  purifier {span(ad_s, 1)} s; adversarial fine-tuning {span(ft, 0)} s for {ft_steps.pop()} steps ({passes.pop()} passes),
  the clean control {rec['clean-control']['finetune_seconds']:.0f} s.

![Overall PSNR against the budget, every model and the purifier](figures/robust_finetune/robust_summary.png)
"""

def checkpoints():
    o, r = CARD['promptir-tiny-original'], CARD['promptir-tiny-retrained-nohaze']
    ao, ar = CARD['adair-tiny-original'], CARD['adair-tiny-retrained-nohaze']
    pu = CARD['purifier-dim16']
    cfg = o['config']
    conv = o['convergence']
    srow = {'original': S['rows']['original'], 'retrained-nohaze': S['rows']['retrained']}
    for k, c in (('original', o), ('retrained-nohaze', r)):
        claim(all(abs(srow[k]['tasks'][t]['psnr'] - c['metrics'][t]['psnr']) < 1e-3 for t in TASKS), f'the study scores the {k} card')
    order = RT + FT
    psnr = table(['model'] + order + ['training time'],
                 [[k] + [f"{srow[k]['tasks'][t]['psnr']:.2f} ± {srow[k]['tasks'][t]['psnr_se']:.2f} ({sg(c['metrics'][t]['gain'])})" for t in order]
                  + [f"{c['seconds']:.0f} s"] for k, c in (('original', o), ('retrained-nohaze', r))])
    def conv_rows(cards):
        return [[k, f"{c['convergence']['from_step']}-{c['convergence']['to_step']}"] + [f"{c['convergence']['tasks'][t]['moved']:.2f}" for t in order]
                + ['yes' if c['convergence']['met'] else 'no: ' + ', '.join(t for t in order if not c['convergence']['tasks'][t]['met'])]
                for k, c in cards]
    conv_head = ['model', 'last fifth: steps'] + order + [f"criterion (<= {conv['bar']} dB) met"]
    # the release bars (forgetting.train.release_bars) on the two cards
    om, rm = o['metrics'], r['metrics']
    bars = [('original gain', t, om[t]['gain'], f'>= {v}', om[t]['gain'] >= v) for t, v in RELEASE_BARS['gain'].items()]
    bars += [('retrained - original', t, rm[t]['psnr'] - om[t]['psnr'], f"within ±{RELEASE_BARS['retained_gap']}",
              abs(rm[t]['psnr'] - om[t]['psnr']) <= RELEASE_BARS['retained_gap']) for t in RT]
    bars += [('retrained gain', t, rm[t]['gain'], f"<= {RELEASE_BARS['forgotten_gain']}", rm[t]['gain'] <= RELEASE_BARS['forgotten_gain']) for t in FT]
    bar_tab = table(['bar', 'task', 'dB', 'limit', 'met'], [[b, t, sg(v), lim, 'yes' if m else '**no**'] for b, t, v, lim, m in bars],
                    [':--', ':--', '--:', ':--', ':--'])
    lead_noise = [rm[t]['psnr'] - om[t]['psnr'] for t in RT if t.startswith('noise')]
    lead_rain = rm['rain']['psnr'] - om['rain']['psnr']
    claim(all(v > RELEASE_BARS['retained_gap'] for v in lead_noise + [lead_rain]), 'the retrained model restores every retained task better')
    claim(not ao['convergence']['met'], 'the AdaIR original misses the convergence bar')
    a_miss = [t for t in order if not ao['convergence']['tasks'][t]['met']]
    return f"""## The bundled checkpoints: training and quality bars

The cards beside the checkpoints (`data/checkpoints/*.json`) record the exact command, config, data split and pools,
wall time, device, per-task test metrics, the validation curve (drawn in `*-curve.png` beside them) and the convergence
check; the numbers below are read from them. The training defaults are their recipe (`forgetting.train.RELEASE_RECIPE`:
{o['model_spec']['name']}, {cfg['steps']} steps of {cfg['batch_size']} patches of {cfg['patch_size']} px, AdamW at lr
{cfg['lr']:g} with warm-up and cosine decay, gradient clipping at {cfg['grad_clip']:g}, seed {cfg['seed']}, per-type
pools), so naming the tasks and the output is enough. The cards' commands:

```
{o['command']}
{r['command']}
```

The two runs took {o['seconds']:.0f} s and {r['seconds']:.0f} s on this {BENCH['machine']['cpu_count']}-core {o['device'].upper()}, both at once
{untraced('with one thread each')} (and other work beside them). A rerun of the same command resumes an interrupted run (`--stop-at N`
ends a session early on purpose), and existing files are never replaced without `--overwrite`. On a GPU the same command
with `--device cuda` (and a larger `--steps`) trains faster; the card records the device.

An AdaIR-tiny pair with the same recipe sits beside them (`adair-tiny-original.pt`, `adair-tiny-retrained-nohaze.pt`;
{ao['seconds']:.0f} s and {ar['seconds']:.0f} s at once, {untraced('one thread each')}, beside other work; trained in a scratch
folder, so the paths in their cards' `command` differ):

```
{ao['command']}
{ar['command']}
```

It checks that the default is not tuned to one architecture ([above](#the-default-on-adair-tiny)). Like the study pair,
it does not meet the convergence bar on {joined(a_miss)} over the last fifth of training (the cards' `convergence`
entry): {joined([f"{ao['convergence']['tasks'][t]['moved']:.1f}" for t in a_miss])} dB for the original.

The diffusion purifier (`purifier-dim16.pt`, {untraced('175k parameters')}, trained on the bundled training photos
only, {len(pu['photos'])} photos): `{pu['command']}` ({pu['seconds']:.0f} s {untraced('on one thread')} beside other work; loss
{pu['loss_first']:.3f} -> {pu['loss_last']:.3f} between the first and last tenth of training).

Test PSNR ± standard error over the {om[RT[0]]['count']} images of each task (restoration gain in brackets), and how far
test PSNR still moved over the last fifth of training (max - min of the validations from step {conv['from_step']} on;
the criterion is {conv['bar']} dB):

{psnr}

{table(conv_head, conv_rows((('original', o), ('retrained-nohaze', r), ('adair-tiny original', ao), ('adair-tiny retrained-nohaze', ar))))}

### Quality bars: met and missed

`forgetting.train.release_bars(original_card, retrained_card)` checks a pair of release models (`bars_markdown` prints
the rows; `nbs/02_train.ipynb` runs it on the study pair). {sum(b[-1] for b in bars)} of {len(bars)} bars are met:

{bar_tab}

The original clears the gain bars and the retrained model has no {FORGET} gain, but the retrained model still restores
every retained task better than the original, by {span(lead_noise, 1)} dB on noise and {lead_rain:.1f} dB on rain. Part
of that is budget: without {FORGET} each retained task gets {len(TASKS)}/{len(RT)} of the patches. The earlier pairs
([History](#history)) showed that more steps or width alone did not close such a gap. So a retain change is measured
against an original that is weaker than the gold standard on every retained task.
"""

def timings():
    rows = []
    for rep, g in ((S, 'pass-through-distill'), (S, 'accurate (published)'), (S, 'accurate-fast'), (S, 'GA only'),
                   (NEG, 'task-negation'), (SSD, 'ssd'), (REL, 'pass-through-distill +relearn step'),
                   (PER, 'pass-through-distill +perturb 0.3'), (ADA, 'pass-through-distill')):
        s = rep['seeds'][g]
        rows.append([g + (' (AdaIR-tiny)' if rep is ADA else ''), s['seconds']['n'], f"{s['seconds']['mean']:.0f} ({s['seconds']['min']:.0f}-{s['seconds']['max']:.0f})",
                     pct(s['compute']['mean'])])
    m = BENCH['models']
    bench = table(['preset', 'parameters', 'batch of 64 px patches', 'forward GFLOPs per patch', 'forward s per batch', 'training step s per batch'],
                  [[k, f"{v['parameters']:,}", v['batch'], f"{v['forward_flops_per_patch'] / 1e9:.1f}", f"{v['forward_s_per_batch']:.2f}",
                    f"{v['train_step_s_per_batch']:.2f}"] for k, v in m.items()])
    mc = BENCH['machine']
    return f"""## Timings

Seconds on this shared {mc['cpu_count']}-core CPU; other work ran beside every job, so they are indications, not
benchmarks. Compute (image passes over retraining's) is the measure the targets use.

- Retraining the study pair's retrained model: {S['retrain']['seconds']:.0f} s, {S['retrain']['passes']:.0f} image
  passes ([the cards](#the-bundled-checkpoints-training-and-quality-bars)).
- `make demo`: {DEMO['demo']['seconds']:.0f} s in all, of which unlearning
  {DEMO['rows'][next(k for k in DEMO['rows'] if k.startswith('unlearned'))]['seconds']:.0f} s.
- Unlearning on the study pair, seconds per run over the seeds (`seconds` in the reports):

{table(['recipe', 'seeds', 'seconds, mean (range)', 'compute %'], rows)}

- Attacks and purification: [Robustness](#robustness-attacks-and-defences-on-the-study-pairs-original), *Cost*.

{remake('model_benchmark.json')}

Forward and training-step time of the model presets ({BENCH['note'].rstrip('.')}; torch {mc['torch']}, {mc['torch_threads']}
threads):

{bench}
"""

def fullsize():
    ok = [r for r in FULL['rows'] if 'error' not in r and 'peak_rss_mib' in r]
    over = [r for r in FULL['rows'] if r.get('over_memory')]
    gib = lambda mib: f'{mib / 1024:.1f}'
    rows = [[r['model'], r['batch'], r['patch'], gib(r['peak_rss_mib']), f"{r['seconds_per_step']:.1f}", f"{r['seconds_per_image_pass']:.2f}"] for r in ok]
    g = FULL['growth']
    per = lambda metric, vary: joined([f'{m} x{v:.2f}' for m, v in g[metric][f'per_{vary}_doubling']['per_model'].items()])
    limit = joined(sorted({f"{r['model']} at batch {r['batch']} and {r['patch']} px" for r in over}))
    return f"""## Full-size models on the CPU

The default recipe on full PromptIR and AdaIR (35.6M and 28.8M parameters), a few steps on this CPU, one thread, each
configuration in a fresh process (batch = forget pairs = proxy-retain inputs per step; peak resident memory):

{table(['model', 'batch', 'patch px', 'peak GiB', 's per step', 's per image pass'], rows)}

Did not fit under {FULL['settings']['max_rss_gib']:g} GiB (stopped there, or skipped after a smaller one was stopped):
{limit}. Per doubling of the patch side, the peak above the baseline grows {per('peak_above_baseline_mib', 'patch')}
and the step time {per('seconds_per_step', 'patch')}; per doubling of the batch, the peak grows
{per('peak_above_baseline_mib', 'batch')} and the step time {per('seconds_per_step', 'batch')}. Other work shared the CPU, so the times are indications. On a GPU the same job runs
with `--device cuda` and `--amp` (bf16 autocast); `benchmarks/gpu_check.sh` is the prepared check.

{remake('fullsize_unlearn/')}
"""

def history():
    o = OLD['table']['overall']
    n = OLD['table'][OLD['tasks'][0]]['clean']['count']
    h1 = untraced('Before the study pair, the bundled checkpoints were trained on shared photos (every task on all 12 training photos) for 2000 steps of 8 patches and scored on one 128 px centre crop per test photo (4 images per task).')
    h2 = untraced("On that pair the demo's `accurate-fast` run reported a forget gap of 0.32 dB and a retain change of -0.23 dB, and the README said the three targets were met; a 3x-longer-trained pair lost 2.2 to 2.5 dB on the retained tasks with every method without retain data, and a 3x wider pair (dim 24) kept the retrained model's 1.8 to 6.3 dB lead on the retained tasks.")
    h3 = untraced('On 16 unseen photos the same demo recipe gave -0.42 to -0.76 dB over three seeds: the 4-image suite could not tell these apart.')
    h4 = untraced("On it, adversarial fine-tuning (lr 2e-4) lost 0.16 to 0.24 dB under PGD and 0.27 dB clean; the robustness section above has the study pair's numbers.")
    return f"""## History

{remake('robustness.{json,png}')}

{h1}
{h2}
{h3}
Until the pass-through-distill default, the demo's default was `accurate-fast`, which on the study pair loses
{span([-x for x in [S['seeds']['accurate-fast']['retain_change']['max'], S['seeds']['accurate-fast']['retain_change']['min']]], 1)}
dB on the retained tasks ([the study](#the-forgetting-study-on-the-study-pair)). Those numbers are superseded by the
study pair's.

The figures `figures/robustness.*` and `figures/attack_example.png` are still of that older original model: PGD-{OLD['meta']['steps']}
({OLD['meta']['norm']}, {OLD['meta']['loss']} loss, {n} images per task) took its overall PSNR from {o['clean']['psnr']:.2f} dB
clean to {' / '.join(f"{o[b]['psnr']:.2f}" for b in list(o)[1:])} dB at {joined([b.split('/')[0] for b in list(o)[1:]])} /255.
{h4}
"""

def reliability():
    tiles = untraced('Tiles change outputs a little (channel attention and prompts see only their tile): within 0.5 dB of whole images on noise for the tiny model.')
    gloo = untraced("Two gloo processes give the weights of one process to within 1e-6 (`tests/test_distributed.py`, `tests/test_cli.py`), with one exception on PromptIR: at the first step the adversarial anchor L1(f(x_adv), f0(x_adv)) has a zero residual, so its gradient signs come from the last bits of the conv kernels, which can differ between a batch of 2 and of 4 (seen on an AMD CPU: 6e-5 on a 7e-4 update after two steps); the default's distillation term starts at the same zero residual, and Adam turns such last bits of near-zero gradients into full steps.")
    return f"""## Reliability and several processes

These are properties the tests check rather than measurements; they moved here from the README.

`tests/test_reliability.py` runs the command line against faults and bad input; every case is a regression test
(`python -m pytest tests/test_reliability.py`, a few minutes on 2 CPU cores):

- **No user file is lost.** An output that is also an input (`evaluate`/`attack --out` equal to `--checkpoint` or its
  card, `unlearn --out` over its input, a `demo --out` folder holding the `--original` model, `report` outputs over its
  checkpoints) is refused even with `--overwrite`; `train --run`/`--figure` equal to `--out` is refused before any work;
  every output of `report` (JSON, markdown, figures) is checked, by trying to write, before anything is computed; a file
  in a demo folder that an earlier demo did not write needs `--overwrite`.
- **One unit, created exclusively.** A model and its card are written together (`atomic_write_all`: a lock on the
  folder, temporary files, then a hard link that fails on an existing name), so two runs with the same `--out` leave one
  run's model with its own card and the other run refused. Temporary files of a writer killed by `kill -9` are removed
  by the next write of the same file.
- **No false success.** An unlearning run whose divergence guard restored the starting weights exits with an error and
  writes nothing; a run that stopped without meeting its stop rule writes a card that says `"status": "not forgotten"`
  (`"forgotten": []`) and prints "did not forget". Checkpoints with NaN/inf weights are refused on load, and a NaN
  output scores PSNR NaN, never inf.
- **Finishing after a kill.** A `train` or `unlearn` run killed by `kill -9` mid-run continues when the same command is
  rerun and ends with the weights of an uninterrupted run, bit for bit (the test kills each after its first periodic
  save): `train` from its `--run` file, `unlearn` from its state file (`--state`, default `OUT.state.pt`, saved every
  `--save-every` steps, 50 by default; `--stop-at N` pauses on purpose). The state file holds the weights, the
  optimiser, the batch sampler's generator and the divergence guard's last good state; a state file of another job
  (other options, starting weights or forget set) is refused in one line naming what differs, and it is removed once the
  model is written. When the kill came after the model was written but before its card, the same command writes the card
  (it is inside the model file) instead of refusing.
- **One line for every bad option.** Every `UnlearnConfig` and `TrainConfig` field is checked at construction
  (`--steps -1`, `--lr nan`, `--set eval_every=0`, `--set lam=abc`, `--set batch_forget=0`, ...): one
  `forgetting CMD: error: ...` line naming the field and its allowed range; a training loss that overflows is one line
  too.
- **Images of any size.** `restore` takes any image from 1x1 pixel up (padding brings it to 8x8, the smallest input of
  the bundled presets); a benchmark image smaller than its 16 px crop, or a `--photos` image smaller than `--size`, is
  one line naming the file and the size it needs.
- **Modes and memory kept.** `restore` and `evaluate` give every submodule its own train/eval mode back (a submodule
  frozen in eval mode stays so); tiled restoration holds one tile of each image per forward pass by default.
- **Large images in tiles.** `evaluate --tile N` and `report --tile N` (a positive multiple of 8, else one line) score
  in tiles; the default scores whole images as before. {tiles}
- **Only our line for unsafe pickles.** A checkpoint or `train --run` file that is a pickle of code (any protocol) is
  refused in one line naming the file, without torch's warnings or its advice to turn safe loading off.
- **`--quiet` is quiet.** The BSD68, Rain100L and SOTS loaders of `--bsd68`/`--rain100l`/`--sots` show no progress bar.

**Several processes.** `forgetting train --nproc N` and `forgetting unlearn --nproc N` (or `torchrun`) run
DistributedDataParallel with NCCL on GPUs (gloo on CPU); each rank takes its share of the global batch and only rank 0
writes files. In Python it is the single-process loop with the job's ranks: `forgetting.train.train(model, photos,
config, ranks=info.ranks)` on every rank inside `with forgetting.distributed.process_group() as info:`. For unlearning,
every rank takes its share of each forget, adversarial and retain batch (batch sizes must divide by the process count),
gradients are averaged over the ranks, and the adversarial examples and MAS importance are split over them too; in
Python, call `forgetting.unlearn.forget(..., distributed=True)` on every rank inside
`forgetting.distributed.process_group()`. {gloo}
The CLI test therefore checks the two-process run with SGD, without the anchor and the distillation; the anchor's split
is checked on a plain conv net. A killed (or `--stop-at`) multi-process job resumes like a single one: rank 0 writes the
state file, every rank reads it, and the resumed job ends with the uninterrupted job's weights bit for bit
(`tests/test_reliability.py`).
"""

def appendix():
    items = '\n'.join(f'{i}. {s}' for i, s in enumerate(dict.fromkeys(UNTRACED), 1))
    return f"""## Sentences not traced to a committed JSON

These sentences and phrases (marked † above) come from the earlier README; no committed JSON holds their numbers, so they
are kept as they were and not regenerated:

{items}
"""

MARKER = re.compile(r'^([-+*>|=]|#+|\d+[.)]|```.*)$')

def wrap(words, first, rest, width=120):
    "Greedy word wrap that never starts a continuation line with a markdown marker (a list, heading or quote)."
    lines, cur = [], []
    for w in words:
        if cur and len((rest if lines else first) + ' '.join(cur + [w])) > width:
            carry = [w]
            while MARKER.match(carry[0]) and len(cur) > 1: carry.insert(0, cur.pop())
            lines.append(cur); cur = carry
        else: cur.append(w)
    lines.append(cur)
    return '\n'.join((rest if i else first) + ' '.join(l) for i, l in enumerate(lines))

def reflow(text):
    "Rewrap the prose the templates leave ragged; tables, code, headings, commands and HTML stay as they are."
    out, fence = [], False
    for block in text.split('\n\n'):
        if fence or block.startswith('```'):
            fence = fence != (block.count('```') % 2 == 1); out.append(block); continue
        if block.startswith(('|', '#', '<', '![', '*Remade by*', '- `figures/')): out.append(block); continue
        items = re.split(r'\n(?=- |\d+\. )', block)
        if items[0].startswith('- ') or re.match(r'\d+\. ', items[0]):
            out.append('\n'.join(wrap(i.split()[1:], i.split()[0] + ' ', ' ' * (len(i.split()[0]) + 1)) for i in items))
        else: out.append(wrap(block.split(), '', ''))
    return '\n\n'.join(out)

def render():
    UNTRACED.clear()
    body = [intro(), demo(), yardstick(), the_study(), option_search(), other_types(), relearning(), adair(), robustness(), checkpoints(),
            timings(), fullsize(), history(), reliability()]
    text = re.sub(r'\n{3,}', '\n\n', '\n'.join(body) + '\n' + appendix()).strip()
    return reflow(text) + '\n'

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--check', action='store_true', help='exit 1 when STUDY.md differs from what this script writes')
    ap.add_argument('--out', type=Path, default=OUT, help='the file to write or check (default: STUDY.md)')
    a = ap.parse_args(argv)
    text = render()
    if a.check:
        now = a.out.read_text() if a.out.exists() else ''
        if now == text: print(f'{a.out.name} is current'); return 0
        diff = list(difflib.unified_diff(now.splitlines(), text.splitlines(), 'committed', 'would write', lineterm='', n=0))
        print(f'{a.out.name} is not current: run python benchmarks/study_md.py', *diff[:40], sep='\n')
        return 1
    umask = os.umask(0); os.umask(umask)
    mode = (a.out.stat().st_mode & 0o777) if a.out.exists() else 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=a.out.parent, prefix=f'.{a.out.name}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'w') as f: f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, a.out)
    except BaseException:
        if os.path.exists(tmp): os.unlink(tmp)
        raise
    print(f'wrote {a.out} ({len(text.splitlines())} lines)')
    return 0

if __name__ == '__main__': sys.exit(main())
