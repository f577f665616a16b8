"Bad inputs and real-benchmark layouts for `forgetting.data` (fake datasets built in tmp_path)."
from pathlib import Path
import pytest, torch
from torchvision.io import write_png, encode_jpeg
from forgetting.data import (TASKS, task_type, tasks_of, forget_retain, load_image, Photo, folder_photos, split_photos,
                             degrade, add_haze, PatchDataset, PairedDataset, PairedPatchDataset, make_suite, bsd68,
                             rain100l, sots_outdoor, rain100l_train, reside_ots, clean_folders, plot_degradations)

pytestmark = pytest.mark.filterwarnings('ignore:The image decoding:DeprecationWarning')  # torchvision 0.29 io

def rand_u8(h=24, w=32, c=3, seed=0): return (torch.rand(c, h, w, generator=torch.Generator().manual_seed(seed))*255).byte()

def png(path, img=None, **kw):
    path = Path(path); path.parent.mkdir(parents=True, exist_ok=True)
    write_png(rand_u8(**kw) if img is None else img, str(path)); return path

def jpg(path, img=None, **kw):
    path = Path(path); path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_jpeg(rand_u8(**kw) if img is None else img).numpy().tobytes()); return path

# --- tasks and types ---------------------------------------------------------------------------
def test_unknown_task_and_type():
    with pytest.raises(ValueError, match="'snow'.*known tasks"): task_type('snow')
    with pytest.raises(ValueError, match="'blur'"): tasks_of(['noise', 'blur'])
    with pytest.raises(ValueError, match="'snow'"): degrade(torch.rand(3, 8, 8), 'snow')
    with pytest.raises(ValueError, match="'snow'"): forget_retain('snow')
    with pytest.raises(ValueError, match="'noise5'"): forget_retain('noise', ['noise5', 'rain'])

def test_forget_type_without_retain_or_forget():
    with pytest.raises(ValueError, match='no retain'): forget_retain('noise', ['noise15', 'noise25'])
    with pytest.raises(ValueError, match='nothing to forget'): forget_retain('haze', ['rain', 'noise15'])
    assert forget_retain('rain') == (['rain'], ['noise15', 'noise25', 'noise50', 'haze'])

# --- images ------------------------------------------------------------------------------------
def test_load_image_modes(tmp_path):
    import numpy as np
    from PIL import Image
    g = png(tmp_path/'g.png', rand_u8(c=1))
    assert torch.equal(load_image(g)[0], load_image(g)[2])                            # grey -> 3 equal channels
    rgba = np.zeros((4, 5, 4), np.uint8); rgba[..., 0] = 200; rgba[..., 3] = 10
    Image.fromarray(rgba, 'RGBA').save(tmp_path/'rgba.png')
    x = load_image(tmp_path/'rgba.png')
    assert x.shape == (3, 4, 5) and abs(float(x[0].mean()) - 200/255) < 1e-6           # alpha dropped
    Image.new('P', (5, 4), 3).save(tmp_path/'pal.png')
    assert load_image(tmp_path/'pal.png').shape == (3, 4, 5)
    Image.fromarray(np.full((4, 4), 32767, np.uint16)).save(tmp_path/'g16.png')
    x = load_image(tmp_path/'g16.png')
    assert x.dtype == torch.float32 and abs(float(x.max()) - 32767/65535) < 1e-3      # 16-bit scaled by 1/65535

def test_corrupt_and_missing_files(tmp_path):
    (tmp_path/'bad.png').write_bytes(b'\x89PNG\r\n\x1a\nnot really a png')
    with pytest.raises(ValueError, match='bad.png'): load_image(tmp_path/'bad.png')
    (tmp_path/'text.jpg').write_text('hello')
    with pytest.raises(ValueError, match='text.jpg'): load_image(tmp_path/'text.jpg')
    with pytest.raises(FileNotFoundError, match='nope.png'): load_image(tmp_path/'nope.png')

def test_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing'): folder_photos(tmp_path/'missing')
    (tmp_path/'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='empty folder'): folder_photos(tmp_path/'empty')
    (tmp_path/'other').mkdir(); (tmp_path/'other'/'a.tif').write_bytes(b'x')
    with pytest.raises(FileNotFoundError, match='a.tif'): folder_photos(tmp_path/'other')
    png(tmp_path/'mixed'/'ok.png'); (tmp_path/'mixed'/'broken.png').write_bytes(b'junk')
    with pytest.raises(ValueError, match='broken.png'): folder_photos(tmp_path/'mixed')   # nothing half-loads

def test_split_errors():
    ps = [Photo(n, torch.rand(3, 8, 8)) for n in 'abcd']
    tr, te = split_photos(ps, 0.25, seed=3)
    assert len(te) == 1 and len(tr) == 3 and split_photos(ps[::-1], 0.25, seed=3)[1][0].name == te[0].name
    with pytest.raises(ValueError, match='distinct'): split_photos(ps + ps[:1])
    with pytest.raises(ValueError, match='at least 2'): split_photos(ps[:1])
    with pytest.raises(ValueError, match='test_fraction'): split_photos(ps, 1.0)
    grey = lambda p: p.name in 'ab'
    tr, te = split_photos(ps, 0.5, seed=1, stratify=grey)
    assert sorted(map(grey, te)) == [False, True] and len(tr) == 2

# --- degradations on other devices/dtypes of input --------------------------------------------
def test_degrade_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r'\(3,H,W\)'): degrade(torch.rand(1, 3, 8, 8), 'noise15')
    with pytest.raises(ValueError, match=r'\(3,H,W\)'): degrade((torch.rand(3, 8, 8)*255).byte(), 'rain')
    with pytest.raises(ValueError, match=r'\[0,1\]'): add_haze(torch.rand(3, 8, 8), depth=torch.full((8, 8), 2.))

def test_generator_and_seed_agree():
    x = torch.rand(3, 32, 32)
    for t in TASKS: assert torch.equal(degrade(x, t, 5), degrade(x, t, torch.Generator().manual_seed(5)))

# --- datasets ----------------------------------------------------------------------------------
def test_patch_larger_than_image():
    ps = [Photo('small', torch.rand(3, 40, 90)), Photo('big', torch.rand(3, 100, 100))]
    with pytest.raises(ValueError, match=r"patch size 64 .*'small' of size 40x90"): PatchDataset(ps, patch_size=64)
    with pytest.raises(ValueError, match='larger than photo'): make_suite(ps, ['rain'], size=64, progress=False)
    pairs = PairedDataset([torch.rand(3, 30, 30)], [torch.rand(3, 30, 30)], ['rain'], ['p'])
    with pytest.raises(ValueError, match='patch size 32'): PairedPatchDataset(pairs, patch_size=32)

def test_patch_dataset_lazy_paths(tmp_path):
    files = [png(tmp_path/f'{i}.png', h=40, w=48, seed=i) for i in range(3)]
    ds = PatchDataset(files, ['noise50', 'haze'], patch_size=32, length=6, seed=2)
    d, c, t = ds[5]
    assert d.shape == c.shape == (3, 32, 32) and t in ('noise50', 'haze') and torch.equal(ds[5][0], d)
    with pytest.raises(IndexError): ds[6]
    small = png(tmp_path/'tiny.png', h=16, w=16)
    with pytest.raises(ValueError, match=r"'tiny' of size 16x16"): PatchDataset([small], patch_size=32, length=2)[0]
    with pytest.raises(ValueError, match='balance'): PatchDataset(files, balance='photo')

def test_paired_dataset_mismatch():
    with pytest.raises(ValueError, match=r"'x'.*\(8, 8\).*\(8, 9\)"):
        PairedDataset([torch.rand(3, 8, 8)], [torch.rand(3, 8, 9)], ['rain'], ['x'])
    with pytest.raises(ValueError, match='lengths differ'): PairedDataset([torch.rand(3, 8, 8)], [], ['rain'])
    with pytest.raises(ValueError, match="'fog'"): PairedDataset([torch.rand(3, 8, 8)], [torch.rand(3, 8, 8)], ['fog'])

# --- real benchmark layouts --------------------------------------------------------------------
def test_bsd68(tmp_path):
    for i in range(3): png(tmp_path/'CBSD68'/f'{i:02d}.png', h=20 + i, w=30, seed=i)
    ds = bsd68(tmp_path/'CBSD68', sigmas=(25, 50), multiple=8, progress=False)
    assert len(ds) == 6 and ds.tasks == ['noise25', 'noise50'] and ds[0][0].shape == (3, 16, 24)
    assert torch.equal(ds[1][0], bsd68(tmp_path/'CBSD68', sigmas=(25, 50), multiple=8, progress=False)[1][0])   # fixed seed
    assert not torch.equal(ds[1][0], bsd68(tmp_path/'CBSD68', sigmas=(25, 50), seed=1, multiple=8, progress=False)[1][0])
    with pytest.raises(ValueError, match="'noise30'"): bsd68(tmp_path/'CBSD68', sigmas=(30,))
    with pytest.raises(FileNotFoundError, match='BSD68'): bsd68(tmp_path/'nothing', progress=False)
    (tmp_path/'CBSD68'/'99.png').write_bytes(b'\x89PNG\r\n\x1a\ntruncated')
    with pytest.raises(ValueError, match='99.png'): bsd68(tmp_path/'CBSD68', progress=False)

def test_rain100l_layouts(tmp_path):
    for n in (1, 2, 10):   # PReNet test layout: rainy/rain-N.png + norain-N.png
        c = rand_u8(seed=n); png(tmp_path/'a'/f'norain-{n}.png', c); png(tmp_path/'a'/'rainy'/f'rain-{n}.png', c)
    ds = rain100l(tmp_path/'a', progress=False)
    assert len(ds) == 3 and ds.tasks == ['rain'] and ds.names[2] == 'rain-2/rain' and torch.equal(ds[0][0], ds[0][1])
    for n in (1, 2):       # PromptIR test layout: input/ + target/ with equal names
        png(tmp_path/'b'/'input'/f'{n}.png', seed=n); png(tmp_path/'b'/'target'/f'{n}.png', seed=n + 5)
    assert len(rain100l(tmp_path/'b', progress=False)) == 2
    for n in (1, 2):       # RainTrainL: side by side
        png(tmp_path/'c'/f'rain-{n}.png'); png(tmp_path/'c'/f'norain-{n}.png')
    lazy = rain100l_train(tmp_path/'c', progress=False)
    assert isinstance(lazy.degraded[0], Path) and lazy[1][0].shape == (3, 16, 32)   # centre-cropped to multiples of 16 when read
    assert PairedPatchDataset(lazy, patch_size=16, length=3)[2][0].shape == (3, 16, 16)

def test_rain100l_jorder_x2_layout_and_raintrainl_masks(tmp_path):
    for n in (1, 2, 3):    # JORDER's release: rain/X2/norain-Nx2.png + norain/norain-N.png
        c = rand_u8(seed=n); png(tmp_path/'x2'/'norain'/f'norain-{n}.png', c); png(tmp_path/'x2'/'rain'/'X2'/f'norain-{n}x2.png', c)
    ds = rain100l(tmp_path/'x2', progress=False)
    assert len(ds) == 3 and ds.names[0] == 'norain-1x2/rain' and torch.equal(ds[2][0], ds[2][1])
    for n in (1, 2):       # RainTrainL ships rain masks beside the pairs: they are not rainy inputs
        for kind in ('rain', 'norain', 'rainregion', 'rainstreak'): png(tmp_path/'tl'/f'{kind}-{n}.png', seed=n)
    assert rain100l_train(tmp_path/'tl', progress=False).names == ['rain-1/rain', 'rain-2/rain']

def test_benchmarks_are_centre_cropped_to_multiples_of_16(tmp_path):
    img = rand_u8(h=40, w=50)
    png(tmp_path/'bsd'/'a.png', img); png(tmp_path/'r'/'rainy'/'rain-1.png', img); png(tmp_path/'r'/'norain-1.png', img)
    expect = load_image(tmp_path/'bsd'/'a.png')[:, 4:36, 1:49]     # PromptIR's crop_img(base=16): centred
    assert torch.equal(bsd68(tmp_path/'bsd', progress=False)[0][1], expect)
    assert torch.equal(rain100l(tmp_path/'r', progress=False)[0][0], expect)
    assert torch.equal(rain100l(tmp_path/'r', lazy=True, progress=False)[0][0], expect)
    assert bsd68(tmp_path/'bsd', multiple=1, progress=False)[0][1].shape == (3, 40, 50)

def test_rain100l_errors(tmp_path):
    png(tmp_path/'miss'/'rainy'/'rain-1.png')
    with pytest.raises(FileNotFoundError, match='norain-1'): rain100l(tmp_path/'miss', progress=False)
    png(tmp_path/'size'/'rainy'/'rain-1.png', h=24); png(tmp_path/'size'/'norain-1.png', h=20)
    with pytest.raises(ValueError, match=r'rain-1.png is \(24, 32\).*norain-1.png is \(20, 32\)'): rain100l(tmp_path/'size', progress=False)
    lazy = rain100l(tmp_path/'size', lazy=True, progress=False)   # lazy: the mismatch surfaces when the pair is read
    with pytest.raises(ValueError, match='norain-1.png'): lazy[0]
    png(tmp_path/'bad'/'rainy'/'rain-1.png'); (tmp_path/'bad'/'norain-1.png').write_bytes(b'garbage')
    with pytest.raises(ValueError, match='norain-1.png'): rain100l(tmp_path/'bad', progress=False)
    with pytest.raises(FileNotFoundError, match='nowhere'): rain100l(tmp_path/'nowhere', progress=False)
    (tmp_path/'empty'/'rainy').mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match='empty'): rain100l(tmp_path/'empty', progress=False)

def test_sots_outdoor(tmp_path):
    root = tmp_path/'outdoor'
    for i in (1, 2):
        png(root/'gt'/f'{i:04d}.png', seed=i)
        for a, b in (('0.8', '0.2'), ('1', '0.08')): jpg(root/'hazy'/f'{i:04d}_{a}_{b}.jpg', seed=10*i)
    ds = sots_outdoor(root, progress=False)
    assert len(ds) == 4 and ds.tasks == ['haze']
    assert ds.clean[0] is ds.clean[1]                                       # one gt shared by its hazy images
    assert torch.equal(ds[2][1], load_image(root/'gt'/'0002.png')[:, 4:20])      # 24x32 centre-cropped to 16x32
    ots = tmp_path/'OTS'   # RESIDE-OTS/PromptIR: hazy images in sub-folders, clear/ for gt
    png(ots/'clear'/'0007.jpg'.replace('.jpg', '.png'))
    jpg(ots/'haze'/'part1'/'0007_0.9_0.16.jpg'); jpg(ots/'haze'/'part2'/'0007_0.8_0.12.jpg')
    assert len(reside_ots(ots, progress=False)) == 2

def test_sots_promptir_layout(tmp_path):
    root = tmp_path/'dehaze'   # PromptIR/AdaIR test layout: input/ID_beta_A.jpg + target/ID.png
    png(root/'target'/'0001.png', seed=1); jpg(root/'input'/'0001_0.8_0.2.jpg', seed=2)
    ds = sots_outdoor(root, progress=False)
    assert len(ds) == 1 and torch.equal(ds[0][1], load_image(root/'target'/'0001.png')[:, 4:20, :])

def test_sots_errors(tmp_path):
    jpg(tmp_path/'s'/'hazy'/'0003_0.8_0.2.jpg'); (tmp_path/'s'/'gt').mkdir()
    with pytest.raises(FileNotFoundError, match='0003'): sots_outdoor(tmp_path/'s', progress=False)
    (tmp_path/'t').mkdir()
    with pytest.raises(FileNotFoundError, match='hazy/ and a gt/'): sots_outdoor(tmp_path/'t', progress=False)
    jpg(tmp_path/'u'/'hazy'/'0001_0.8_0.2.jpg', h=24); png(tmp_path/'u'/'gt'/'0001.png', h=30)
    with pytest.raises(ValueError, match='size mismatch'): sots_outdoor(tmp_path/'u', progress=False)

def test_clean_folders(tmp_path):
    png(tmp_path/'BSD400'/'a.png'); jpg(tmp_path/'WED'/'a.jpg', h=50, w=60)
    ps = clean_folders(tmp_path/'BSD400', tmp_path/'WED')
    assert [p.name for p in ps] == ['BSD400/a', 'WED/a'] and ps[1].size == (50, 60)
    assert clean_folders(tmp_path/'WED', lazy=True) == [tmp_path/'WED'/'a.jpg']
    with pytest.raises(FileNotFoundError, match='nope'): clean_folders(tmp_path/'nope')

def test_plot_degradations_writes_atomically(tmp_path):
    ps = [Photo('a', torch.rand(3, 40, 40)), Photo('b', torch.rand(3, 48, 40), torch.rand(48, 40))]
    out = tmp_path/'fig'/'deg.png'
    plot_degradations(out, photos=ps, size=32, tasks=['noise50', 'haze'])
    assert load_image(out).shape[0] == 3 and not list(out.parent.glob('*.tmp'))
