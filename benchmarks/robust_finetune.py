"""Adversarial fine-tuning and diffusion purification of the study pair's original: what each defence buys and costs.

    python benchmarks/robust_finetune.py --cache CACHE --models unlearned-default=UNLEARNED.pt \
        --extra original,published-old,low-lr-budgets,unlearned-default --why low-lr-budgets-x2 \
        --purify original,purified-finetune --purify-square original,purified-finetune --t-star 0.05 0.1

Each defence (`DEFENCES`, chosen with --recipes) is a fine-tuning recipe: a set of `forgetting.attack.adversarial_finetune`
arguments applied to `data/checkpoints/promptir-tiny-original.pt` (or to another defence's result, `start`), on the training
photos' per-type pools (the layout the model was trained with); a `purify` defence tunes the restorer on purified inputs
(`forgetting.purify.finetune_purified`) and is attacked only behind the purifier, at its own level.
Every tuned model, every `--models NAME=PT` checkpoint (attacked as it is, e.g. an unlearned model) and the original are attacked with the same protocol: PGD-20, L-inf budgets 2, 4 and 8 /255, step size
budget/4, L1 to the ground truth, on the bundled test suite at 64x64 (4 photos x 4 crops x 5 tasks = 80 images).
`--extra` names also get Square-300 at 8/255, the C&W-L2 minimal norm for -3 dB and a diagnosis of where PGD's
damage sits, on the small suite (one 64x64 crop per photo and task, 20 images). `--purify` names are attacked
on the small suite behind the diffusion purifier (`--purifier`, trained by `forgetting purifier`) three ways:
PGD made on the model alone (transfer), through the purifier (adaptive) and around it (BPDA), with a diagnosis
of what the restorer does with purified clean inputs; `--purify-square` names also get Square-300 at 8/255 behind
it, at the last level. `--why` names get the diagnosis alone.
Finished runs are cached in --cache; a rerun (or `--report-only`) reports them without running them again. One
thread per process: run two processes with disjoint --recipes to use two cores. Writes `robust_finetune.json`
(per defence or model: the robustness table, the paired per-image change against the original with its interval for
clean and every budget, the fine-tuning cost; the other attacks, the diagnosis and the purification rows),
`robust_finetune.md`, `robust_finetune.png` (per task) and `robust_summary.png` into --out.
"""
import argparse, json, time
from dataclasses import dataclass
from pathlib import Path
import torch

ROOT = Path(__file__).resolve().parents[1]
ORIGINAL = ROOT / 'data/checkpoints/promptir-tiny-original.pt'
BUDGETS = (2/255, 4/255, 8/255)
ATTACK = dict(budgets=BUDGETS, steps=20, batch_size=4)
SQUARE = dict(budgets=(8/255,), attack='square', queries=300)  # the query-only attack of the small suite
BASE = dict(steps=300, eps=4/255, attack_steps=5, adv_fraction=0.5, batch_size=8, patch_size=64, lr=2e-4)

LOW_LR_BUDGETS = {**BASE, 'lr': 2e-5, 'eps': (2/255, 4/255, 8/255)}  # low-lr-budgets, and the start of low-lr-budgets-x2

# the defences (fine-tuning recipes; `forgetting.unlearn` names its unlearning recipes apart):
# name -> (what it tests, adversarial_finetune arguments)
DEFENCES = {
    'published-old': ("the recipe behind the old figure: lr 2e-4, PGD-5 at 4/255 on half of each batch", BASE),
    'clean-control': ("the same fine-tuning with no adversarial examples: what the fine-tuning alone costs", {**BASE, 'adv_fraction': 0.}),
    'low-lr-budgets': ("the library's default lr 2e-5 (the original ended at lr 1e-6), each adversarial patch's budget drawn from the evaluation's 2, 4, 8 /255",
                       LOW_LR_BUDGETS),
    'low-lr-budgets-x2': ("low-lr-budgets tuned 300 steps further (600 in all, the schedule restarted): is noise15's collapse a matter of length?",
                          {**LOW_LR_BUDGETS, 'start': 'low-lr-budgets'}),
    'purified-finetune': ("purification + fine-tuning: the restorer tuned on purified clean training inputs (t*=0.1, lr 2e-4), used behind the purifier",
                          {**BASE, 'adv_fraction': 0., 'purify': 0.1}),
}


def recipe_spec(name):
    "A defence's `adversarial_finetune` arguments, its starting defence (None: the original), its purification level (None: none)."
    if name not in DEFENCES: raise SystemExit(f"unknown defence {name!r}; known: original, {', '.join(DEFENCES)}")
    spec = dict(DEFENCES[name][1])
    return spec, spec.pop('start', None), spec.pop('purify', None)


@dataclass(frozen=True)
class Setup:
    "What `main` reads from its arguments for the runners and the report."
    models: dict                 # name -> checkpoint of a model attacked as it is (--models NAME=PT), e.g. an unlearned one
    purifier: str | None = None  # the diffusion purifier's file, relative to ROOT (--purifier); needed only to run purification
    t_stars: tuple = ()          # purification levels (--t-star)


def load_named(name, cache, setup):
    "The model a name stands for: the original, a checkpoint given with --models, or a finished defence's tuned weights."
    from forgetting.model import load_model
    model = load_model(setup.models.get(name, ORIGINAL)).model.eval()
    if name in DEFENCES: model.load_state_dict(torch.load(cache / f'{name}.pt', weights_only=True))
    return model


def run_recipe(name, cache, seed, setup):
    "Fine-tune (a defence), attack, cache; return the robustness table and the tuning history."
    from forgetting.attack import adversarial_finetune, robustness, Robustness
    from forgetting.data import bundled_pools, bundled_suite
    from forgetting.model import load_model
    from forgetting.purify import finetune_purified, load_purifier
    table_path, hist_path = cache / f'{name}.robustness.json', cache / f'{name}.history.json'
    if table_path.exists(): return Robustness.load(table_path), (json.loads(hist_path.read_text()) if hist_path.exists() else None)
    model, history = load_model(setup.models.get(name, ORIGINAL)).model.eval(), None
    if name in DEFENCES and not (cache / f'{name}.pt').exists():
        spec, start, t_star = recipe_spec(name)
        if start: model = load_named(start, cache, setup)
        if t_star: model, history = finetune_purified(model, load_purifier(ROOT / setup.purifier), bundled_pools(), t_star, PURIFY['steps'], seed, progress=False, **spec)
        else: model, history = adversarial_finetune(model, bundled_pools(), seed=seed, progress=False, **spec)
        torch.save(model.state_dict(), cache / f'{name}.pt')
        hist_path.write_text(json.dumps(history))
    if name in DEFENCES:
        if recipe_spec(name)[2]: return None, json.loads(hist_path.read_text())  # attacked behind the purifier only
        model = load_named(name, cache, setup)
    start = time.perf_counter()
    table = robustness(model, bundled_suite('test', size=64), seed=seed, progress=False, **ATTACK)
    table.meta['wall_seconds'] = round(time.perf_counter() - start, 1)
    table.save(table_path)
    return table, history


def run_extra(name, cache, seed, setup):
    "Square-300 at 8/255 and the C&W minimal L2 norm for -3 dB on the small suite (one crop per photo), cached."
    from forgetting.attack import robustness, Robustness, minimal_norms
    from forgetting.data import bundled_suite
    from forgetting.evaluate import save_json, load_json
    sq_path, cw_path = cache / f'{name}.square.json', cache / f'{name}.cw.json'
    if not (sq_path.exists() and cw_path.exists()):
        model, suite = load_named(name, cache, setup), bundled_suite('test', size=64, grid=1)
        if not sq_path.exists(): robustness(model, suite, seed=seed, progress=False, **SQUARE).save(sq_path)
        if not cw_path.exists(): save_json(minimal_norms(model, suite, drop=3., progress=False), cw_path)
    return Robustness.load(sq_path), load_json(cw_path)


def run_why(name, cache, seed, setup):
    "Where the damage of PGD-20 at 8/255 sits (small suite): per image the output's mean brightness error (/255) on the "
    "clean and the attacked input, and the attacked error's energy below and above a 9x9 box blur. Cached."
    import torch.nn.functional as F
    from forgetting.attack import pgd
    from forgetting.data import bundled_suite
    from forgetting.evaluate import save_json, load_json
    path = cache / f'{name}.why.json'
    if path.exists(): return load_json(path)
    model, suite, rows = load_named(name, cache, setup), bundled_suite('test', size=64, grid=1), []
    blur = lambda t: F.avg_pool2d(t, 9, 1, 4, count_include_pad=False)
    for i in range(len(suite)):
        x, y, task = suite[i]
        adv = pgd(model, x[None], 8/255, steps=20, reference=y[None], seed=seed or 0)
        with torch.no_grad(): out, out_adv = model(x[None]).clamp(0, 1), model(adv).clamp(0, 1)
        err = out_adv - y[None]
        rows.append(dict(task=task, index=i, shift_clean=255 * (out - y[None]).mean().item(), shift_attacked=255 * err.mean().item(),
                         input_shift=255 * (adv - x[None]).mean().item(),
                         low=blur(err).square().mean().item(), high=(err - blur(err)).square().mean().item()))
    save_json(rows, path)
    return rows


def why_summary(names, cache, setup):
    "Per model and task: mean brightness error (/255) clean and attacked, the attack's own mean shift, share of low-frequency error."
    import numpy as np
    out = {}
    for n in ['original', *names]:
        if not (cache / f'{n}.why.json').exists(): continue
        rows = run_why(n, cache, None, setup)
        out[n] = {t: {k: float(np.mean([r[k] for r in rows if r['task'] == t])) for k in ('shift_clean', 'shift_attacked', 'input_shift')}
                  | dict(low_share=float(np.mean([r['low'] / (r['low'] + r['high']) for r in rows if r['task'] == t])))
                  for t in dict.fromkeys(r['task'] for r in rows)}
    return out


def why_markdown(why):
    "The diagnosis table."
    tasks = list(next(iter(why.values())))
    lines = ['Where PGD-20 at 8/255 does its damage (20 images): mean brightness error of the output (/255) on the clean input -> '
             'on the attacked input, and the share of the attacked error energy below a 9x9 blur.', '',
             '| model | ' + ' | '.join(tasks) + ' |', '|:--|' + '--:|' * len(tasks)]
    for n, by_task in why.items():
        lines.append(f'| {n} | ' + ' | '.join(f"{v['shift_clean']:+.1f} -> {v['shift_attacked']:+.1f} ({v['low_share']:.0%})" for v in by_task.values()) + ' |')
    return '\n'.join(lines)


PURIFY = dict(t_star=0.1, steps=5)  # DiffPure's level for L-inf 8/255 (Nie et al. 2022), five DDIM steps
# how PGD meets the purifier (the rows' `defence`, besides 'none') -> what the row is
PURIFIED_ATTACKS = {'transfer': "purified; PGD made on the model alone (non-adaptive)", 'adaptive': "purified; PGD through the purifier (full gradient, a new noise draw at every step)",
                    'bpda': "purified; PGD around the purifier (BPDA: identity in the backward pass)"}


def run_purified(name, cache, seed, setup, t_star):
    "PGD-20 at 2, 4, 8 /255 on the small suite of a named model with no defence and behind the purifier (three attacks), cached."
    from forgetting.attack import robustness, Robustness
    from forgetting.data import bundled_suite
    from forgetting.purify import Purified, load_purifier
    suite, model, purifier, out = bundled_suite('test', size=64, grid=1), None, None, {}
    for kind in ['none', *PURIFIED_ATTACKS]:
        path = cache / f'{name}.purify-{kind}-{t_star:g}.json' if kind != 'none' else cache / f'{name}.small.json'
        if not path.exists():
            model = load_named(name, cache, setup) if model is None else model
            if kind != 'none' and purifier is None: purifier = load_purifier(ROOT / setup.purifier)
            defended = model if kind == 'none' else Purified(model, purifier, t_star, PURIFY['steps'], seed, bpda=kind == 'bpda')
            start = time.perf_counter()
            table = robustness(defended, suite, seed=seed, progress=False, surrogate=model if kind == 'transfer' else None, **ATTACK)
            table.meta['wall_seconds'] = round(time.perf_counter() - start, 1)
            table.save(path)
        out[kind] = Robustness.load(path)
    return out


def run_purified_why(name, cache, seed, setup, t_star):
    "What the restorer does with purified clean-suite inputs (small suite): per image its output's mean brightness error (/255) "
    "and contrast (output std / ground-truth std), with and without the purifier in front. Cached."
    from forgetting.data import bundled_suite
    from forgetting.evaluate import save_json, load_json
    from forgetting.purify import Purified, load_purifier
    path = cache / f'{name}.purify-why-{t_star:g}.json'
    if path.exists(): return load_json(path)
    model, suite, rows = load_named(name, cache, setup), bundled_suite('test', size=64, grid=1), []
    defended = Purified(model, load_purifier(ROOT / setup.purifier), t_star, PURIFY['steps'], seed)
    for i in range(len(suite)):
        x, y, task = suite[i]
        with torch.no_grad(): outs = dict(none=model(x[None]).clamp(0, 1), purified=defended(x[None]).clamp(0, 1))
        rows.append(dict(task=task, index=i, **{f'{k}_{q}': v for k, o in outs.items()
                                                for q, v in (('shift', 255 * (o - y[None]).mean().item()), ('contrast', (o.std() / y.std()).item()))}))
    save_json(rows, path)
    return rows


def purified_why_summary(names, cache, setup):
    "Per model, purification level and task: mean brightness error and contrast ratio of the output, without and behind the purifier."
    import numpy as np
    return [dict(model=n, t_star=t, tasks={task: {k: float(np.mean([r[k] for r in rows if r['task'] == task])) for k in rows[0] if k not in ('task', 'index')}
                                             for task in dict.fromkeys(r['task'] for r in rows)})
            for n in ['original', *names] for t in setup.t_stars if (cache / f'{n}.purify-why-{t:g}.json').exists()
            for rows in [run_purified_why(n, cache, None, setup, t)]]


def purified_why_markdown(rows):
    "The table of what the restorer does with purified clean inputs."
    tasks = list(rows[0]['tasks'])
    cell = lambda v: f"{v['none_shift']:+.1f} / {v['none_contrast']:.2f} -> {v['purified_shift']:+.1f} / {v['purified_contrast']:.2f}"
    return '\n'.join(['What the restorer does with purified clean inputs (20 images): output mean brightness error (/255) and contrast ratio, '
                      'without -> behind the purifier.', '', '| model | t* | ' + ' | '.join(tasks) + ' |', '|:--|--:|' + '--:|' * len(tasks)] +
                     [f"| {r['model']} | {r['t_star']:g} | " + ' | '.join(cell(v) for v in r['tasks'].values()) + ' |' for r in rows])


def run_purified_square(name, cache, seed, setup, t_star):
    "Square-300 at 8/255 on the small suite against a named model behind the purifier (its queries see only the defended "
    "outputs), cached. No C&W here: with a fresh purification draw at every call its success test is itself random."
    from forgetting.attack import robustness, Robustness
    from forgetting.data import bundled_suite
    from forgetting.purify import Purified, load_purifier
    path = cache / f'{name}.purify-square-{t_star:g}.json'
    if not path.exists():
        defended = Purified(load_named(name, cache, setup), load_purifier(ROOT / setup.purifier), t_star, PURIFY['steps'], seed)
        robustness(defended, bundled_suite('test', size=64, grid=1), seed=seed, progress=False, **SQUARE).save(path)
    return Robustness.load(path)


def purified_square_rows(names, cache, setup):
    "Square-300 at 8/255 behind the purifier: PSNR and the paired change against the undefended original under the same attack."
    from forgetting.attack import robustness_change
    if not (cache / 'original.square.json').exists(): return []
    base = run_extra('original', cache, None, setup)[0]
    return [dict(model=n, t_star=t, psnr=sq['overall']['8/255']['psnr'], change=robustness_change(base, sq)['8/255'], seconds_per_image=sq.meta['seconds_per_image'])
            for n in ['original', *names] for t in setup.t_stars if (cache / f'{n}.purify-square-{t:g}.json').exists()
            for sq in [run_purified_square(n, cache, None, setup, t)]]


def purified_square_markdown(rows):
    "The table of Square-300 behind the purifier."
    ci = lambda d: f"{d['mean']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}]"
    return '\n'.join(['Square-300 at 8/255 behind the purifier (20 images; change against the undefended original under the same attack, '
                      'paired per image [95% bootstrap]):', '', '| model | t* | PSNR | change | s/image |', '|:--|--:|--:|--:|--:|'] +
                     [f"| {r['model']} | {r['t_star']:g} | {r['psnr']:.2f} | {ci(r['change'])} | {r['seconds_per_image']:.1f} |" for r in rows])


def purification_rows(names, cache, setup):
    "Per model and purification level: the change of every row against the original with no defence, paired per image."
    from forgetting.attack import robustness_change, Robustness
    rows, base = [], Robustness.load(cache / 'original.small.json')
    for n in ['original', *names]:
        for t_star in setup.t_stars:
            if not (cache / f'{n}.purify-adaptive-{t_star:g}.json').exists(): continue
            tables = run_purified(n, cache, None, setup, t_star)
            cost = recipe_cost(n, cache)
            for kind, table in tables.items():
                rows.append(dict(model=n, t_star=t_star, defence=kind, what=PURIFIED_ATTACKS.get(kind, 'no defence'),
                                 psnr={b: table['overall'][b]['psnr'] for b in ['clean', *table.labels]},
                                 change=None if n == 'original' and kind == 'none' else robustness_change(base, table),
                                 attack_seconds_per_image=table.meta['seconds_per_image'], **cost))
    return rows


def purification_markdown(rows):
    "The purification table."
    labels = [b for b in rows[0]['psnr'] if b != 'clean']
    ci = lambda d: f"{d['mean']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}]"
    lines = ['Diffusion purification (20 images: one 64x64 crop per test photo and task). PSNR (dB, mean over tasks) and '
             'the change against the original with no defence (paired per image [95% bootstrap]); purified-finetune is the '
             'restorer tuned on purified inputs (its "none" row: without the purifier).', '',
             '| model | t* | attack | clean | ' + ' | '.join(f'PGD-20 {b}' for b in labels) + ' | s/image |', '|:--|--:|:--|' + '--:|' * (len(labels) + 2)]
    for r in rows:
        cell = lambda b: f"{r['psnr'][b]:.2f}" + (f" ({ci(r['change'][b])})" if r['change'] else '')
        lines.append(f"| {r['model']} | {r['t_star']:g} | {r['defence']} | " + ' | '.join(cell(b) for b in ['clean', *labels]) +
                     f" | {r['attack_seconds_per_image']:.1f} |")
    return '\n'.join(lines)


def fine_tune_passes(name):
    "Restorer forward+backward passes of a defence's fine-tuning, its starting defence's included: each step's batch, plus (attack steps + 1) per adversarial patch."
    spec, start, _ = recipe_spec(name)
    n_adv = round(spec['adv_fraction'] * spec['batch_size'])
    return spec['steps'] * (spec['batch_size'] + n_adv * (spec['attack_steps'] + 1)) + (fine_tune_passes(start) if start else 0)


def recipe_cost(name, cache):
    "A defence's fine-tuning cost: wall seconds (its starting defence's included) and passes; {} for a model that is not a defence."
    if name not in DEFENCES: return {}
    start = recipe_spec(name)[1]
    seconds = json.loads((cache / f'{name}.history.json').read_text())['seconds']
    return dict(finetune_seconds=round(seconds + (recipe_cost(start, cache)['finetune_seconds'] if start else 0), 1), finetune_passes=fine_tune_passes(name))


def recipe_row(name, table, original, cache, setup):
    "One defence's or model's row: the paired change against the original at every budget, per task, the target check and the cost."
    from forgetting.attack import robustness_change
    change = robustness_change(original, table)
    tasks = original.tasks
    gains_ok = all(change[b]['tasks'][t]['mean'] > 0 for b in original.labels for t in tasks)
    clean_cost = -change['clean']['mean']
    what = DEFENCES[name][0] if name in DEFENCES else f'attacked as it is: {setup.models[name]}' if name in setup.models else 'the original, no defence'
    row = dict(name=name, what=what,
               settings=DEFENCES[name][1] if name in DEFENCES else None, change=change,
               psnr={t: {b: table[t][b]['psnr'] for b in ['clean', *table.labels]} for t in [*tasks, 'overall']},
               target=dict(every_task_gains=gains_ok, clean_cost=clean_cost, clean_cost_ok=clean_cost <= 0.3,
                           met=gains_ok and clean_cost <= 0.3),
               attack_seconds_per_image=table.meta.get('seconds_per_image', table.meta['attack_seconds'] / (len(table.images) * len(table.budgets))))
    return row | recipe_cost(name, cache)


def markdown(rows, labels, tasks):
    "The defences table: overall PSNR change with its interval per budget, per-task changes, target."
    ci = lambda d: f"{d['mean']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}]"
    head = '| recipe | clean | ' + ' | '.join(f'PGD-20 {b}' for b in labels) + ' | every task gains | clean cost <= 0.3 | fine-tune s |'
    lines = ['PSNR change against the original (dB, paired per image, mean over tasks [95% bootstrap]); the suite: '
             'bundled test photos, 64x64, 80 images.', '', head, '|:--|' + '--:|' * (len(labels) + 4)]
    for r in rows:
        c = r['change']
        lines.append(f"| {r['name']} | {ci(c['clean'])} | " + ' | '.join(ci(c[b]) for b in labels) +
                     f" | {'yes' if r['target']['every_task_gains'] else 'no'} | {'yes' if r['target']['clean_cost_ok'] else 'no'}"
                     f" | {r.get('finetune_seconds', 0):.0f} |")
    lines += ['', 'Per task (mean paired change, dB: clean / ' + ' / '.join(labels) + ')', '',
              '| recipe | ' + ' | '.join(tasks) + ' |', '|:--|' + '--:|' * len(tasks)]
    for r in rows:
        c = r['change']
        lines.append(f"| {r['name']} | " + ' | '.join(' / '.join(f"{c[b]['tasks'][t]['mean']:+.2f}" for b in ['clean', *labels]) for t in tasks) + ' |')
    return '\n'.join(lines)


def plot(rows, labels, tasks, path):
    "Per task, the attacked PSNR change of every defence and model at every budget (bars), with the clean change; error bars: 2 se."
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt, numpy as np
    cols = ['clean', *labels]
    fig, axes = plt.subplots(1, len(cols), figsize=(3.2 * len(cols), 3.6), sharey=True)
    width = 0.8 / len(rows)
    for ax, b in zip(axes, cols):
        for k, r in enumerate(rows):
            t = r['change'][b]['tasks']
            ax.bar(np.arange(len(tasks)) + k * width, [t[x]['mean'] for x in tasks], width, yerr=[2 * t[x]['se'] for x in tasks],
                   label=r['name'], capsize=2)
        ax.axhline(0, color='k', lw=0.8); ax.set_xticks(np.arange(len(tasks)) + 0.4 - width / 2, tasks, rotation=45, fontsize=8)
        ax.set_title('clean' if b == 'clean' else f'PGD-20 {b}', fontsize=9); ax.grid(axis='y', alpha=0.3)
    axes[0].set_ylabel('PSNR change vs original (dB)'); axes[-1].legend(fontsize=7)
    fig.tight_layout(); fig.savefig(path, dpi=130); plt.close(fig)


def plot_summary(original, rows, purified, path):
    "Overall PSNR against the PGD-20 budget: every model on the suite (left), the original behind the purifier on the small suite (right)."
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    cols = ['clean', *original.labels]
    budgets = [0] + [float(b.split('/')[0]) for b in original.labels]
    panels = 2 if purified else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.8), squeeze=False)
    ax = axes[0, 0]
    ax.plot(budgets, [original['overall'][b]['psnr'] for b in cols], 'k-o', label='original')
    for r in rows: ax.plot(budgets, [r['psnr']['overall'][b] for b in cols], '-o', ms=3, label=r['name'])
    ax.set(xlabel='PGD-20 budget (/255)', ylabel='PSNR (dB, mean over tasks)', title='adversarial fine-tuning (80 images)'); ax.legend(fontsize=7); ax.grid(alpha=0.3)
    if purified:
        ax = axes[0, 1]
        for r in [r for r in purified if r['defence'] != 'none' or r['t_star'] == purified[0]['t_star']]:
            ax.plot(budgets, [r['psnr'][b] for b in cols], 'k-o' if r['defence'] == 'none' else '-o', ms=3,
                    label=f"{r['model']}: " + ('no defence' if r['defence'] == 'none' else f"purified at t*={r['t_star']:g}, {r['defence']} PGD"))
        ax.set(xlabel='PGD-20 budget (/255)', title='diffusion purification (20 images)'); ax.legend(fontsize=7); ax.grid(alpha=0.3)
    fig.tight_layout(); fig.savefig(path, dpi=130); plt.close(fig)


def extra_rows(names, cache, setup):
    "For every name with cached Square and C&W results: its numbers and the paired change against the original's."
    from forgetting.attack import robustness_change, minimal_norm_change
    if not all((cache / f'original.{k}.json').exists() for k in ('square', 'cw')): return []
    sq0, cw0 = run_extra('original', cache, None, setup)
    rows = []
    for n in ['original', *names]:
        done = all((cache / f'{n}.{k}.json').exists() for k in ('square', 'cw'))
        if not done or rows and n == 'original': continue
        sq, cw = run_extra(n, cache, None, setup)
        rows.append(dict(name=n, square_psnr=sq['overall']['8/255']['psnr'], square_change=robustness_change(sq0, sq)['8/255'],
                         cw_median_norm=cw['table']['overall']['median_norm'], cw_success=cw['table']['overall']['success'],
                         cw_ratio=minimal_norm_change(cw0, cw), square_seconds_per_image=sq.meta['seconds_per_image'],
                         cw_seconds_per_image=cw['meta']['seconds_per_image']))
    return rows


def extra_markdown(rows):
    "The Square and C&W table."
    ci = lambda d, k='mean', f='+.2f': f"{d[k]:{f}} [{d['low']:{f}}, {d['high']:{f}}]"
    lines = ['Square-300 at 8/255 (query-only) and C&W-L2 (smallest L2 perturbation for -3 dB), 20 images (one 64x64 crop '
             'per test photo and task); changes paired per image against the original [95% bootstrap].', '',
             '| model | Square 8/255 PSNR | change | C&W median L2 | C&W success | norm ratio vs original | s/image Square, C&W |',
             '|:--|--:|--:|--:|--:|--:|--:|']
    for r in rows:
        lines.append(f"| {r['name']} | {r['square_psnr']:.2f} | {ci(r['square_change'])} | {r['cw_median_norm']:.3f} | "
                     f"{r['cw_success']:.0%} | {ci(r['cw_ratio'], 'ratio', '.2f')} | {r['square_seconds_per_image']:.1f}, {r['cw_seconds_per_image']:.1f} |")
    return '\n'.join(lines)


def report(names, cache, out, setup):
    "Rows of every finished defence and model, written as JSON, markdown and a figure into `out`."
    from forgetting.attack import Robustness
    from forgetting.evaluate import save_json
    original = Robustness.load(cache / 'original.robustness.json')
    rows = []
    for n in names:
        if n == 'original' or not (cache / f'{n}.robustness.json').exists(): continue
        rows.append(recipe_row(n, run_recipe(n, cache, None, setup)[0], original, cache, setup))
    out.mkdir(parents=True, exist_ok=True)
    extras = extra_rows([n for n in names if n != 'original'], cache, setup)
    why = why_summary([n for n in names if n != 'original'], cache, setup)
    purified = purification_rows([n for n in names if n != 'original'], cache, setup)
    md = markdown(rows, original.labels, original.tasks) + ('\n\n' + extra_markdown(extras) if extras else '') + ('\n\n' + why_markdown(why) if why else '')
    md += '\n\n' + purification_markdown(purified) if purified else ''
    pwhy = purified_why_summary([n for n in names if n != 'original'], cache, setup)
    squares = purified_square_rows([n for n in names if n != 'original'], cache, setup)
    md += ('\n\n' + purified_why_markdown(pwhy) if pwhy else '') + ('\n\n' + purified_square_markdown(squares) if squares else '')
    save_json(dict(protocol=dict(model=str(ORIGINAL.relative_to(ROOT)), suite="bundled_suite('test', size=64)", attack=ATTACK | dict(budgets=original.labels)),
                   original=dict(psnr={t: {b: original[t][b]['psnr'] for b in ['clean', *original.labels]} for t in [*original.tasks, 'overall']},
                                 meta=original.meta),
                   recipes=rows, other_attacks=extras, why=why,
                   purification=dict(purifier=setup.purifier, steps=PURIFY['steps'], rows=purified, square=squares, why=pwhy) if purified else None),
              out / 'robust_finetune.json', overwrite=True)
    (out / 'robust_finetune.md').write_text(md + '\n')
    plot(rows, original.labels, original.tasks, out / 'robust_finetune.png')
    plot_summary(original, rows, purified, out / 'robust_summary.png')
    print(md)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--recipes', default='original,' + ','.join(DEFENCES), help="comma-separated names: 'original' and defences (fine-tuning recipes, DEFENCES)")
    p.add_argument('--out', type=Path, default=ROOT / 'figures/robust_finetune')
    p.add_argument('--cache', type=Path, required=True, help='folder of finished defences and attacks')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--models', nargs='*', default=[], metavar='NAME=PT', help='checkpoints attacked as they are (e.g. an unlearned model)')
    p.add_argument('--extra', default='', help='comma-separated names that also get the Square and C&W attacks and the damage diagnosis (small suite)')
    p.add_argument('--purifier', default='data/checkpoints/purifier-dim16.pt', help='the diffusion purifier of --purify (forgetting purifier)')
    p.add_argument('--why', default='', help='comma-separated names that get only the damage diagnosis (small suite)')
    p.add_argument('--purify', default='', help='comma-separated names attacked behind the purifier (transfer, adaptive, BPDA), small suite')
    p.add_argument('--purify-square', default='', help='comma-separated names attacked by Square-300 at 8/255 behind the purifier, small suite')
    p.add_argument('--t-star', type=float, nargs='+', default=[PURIFY['t_star']], help='purification levels')
    p.add_argument('--report-only', action='store_true', help='only report what is already in --cache')
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    a.cache.mkdir(parents=True, exist_ok=True)
    setup = Setup(models=dict(m.split('=', 1) for m in a.models), purifier=a.purifier, t_stars=tuple(a.t_star))
    names = [n for n in a.recipes.split(',') if n] + list(setup.models)
    for n in names:
        if n != 'original' and n not in setup.models: recipe_spec(n)
    if not a.report_only:
        for n in names:
            start = time.perf_counter(); run_recipe(n, a.cache, a.seed, setup)
            print(f"{n}: {time.perf_counter() - start:.0f} s", flush=True)
        for n in filter(None, a.extra.split(',')):
            start = time.perf_counter(); run_extra(n, a.cache, a.seed, setup); run_why(n, a.cache, a.seed, setup)
            print(f"{n} square+cw: {time.perf_counter() - start:.0f} s", flush=True)
        for n in filter(None, a.why.split(',')): run_why(n, a.cache, a.seed, setup)
        levels = lambda n: [recipe_spec(n)[2]] if n in DEFENCES and recipe_spec(n)[2] else list(setup.t_stars)  # a purify defence: its own level
        for n in filter(None, a.purify.split(',')):
            for t_star in levels(n):
                start = time.perf_counter(); run_purified(n, a.cache, a.seed, setup, t_star)
                print(f"{n} purified at t*={t_star:g}: {time.perf_counter() - start:.0f} s", flush=True)
                run_purified_why(n, a.cache, a.seed, setup, t_star)
        for n in filter(None, a.purify_square.split(',')):
            for t_star in levels(n)[-1:]: run_purified_square(n, a.cache, a.seed, setup, t_star)
    report(names, a.cache, a.out, setup)


if __name__ == '__main__': main()
