"""How far to trust a transcript: calibrated word and utterance confidence, and the model's domain.

**Confidence.** Each word gets a raw score, the mean log-posterior of its characters: for a CTC
reader the frame posteriors along the CTC forced alignment (Viterbi) of the decoded text, for the
cross-modal reader the attention decoder's own per-character log-probabilities. Platt scaling
(a logistic regression of "the word is right" on that score, ``sigmoid(a · score + b)``), fit on
the validation split by ``lipkeras calibrate``, turns it into a probability; the utterance's
confidence is the mean over its words, the expected share of right words. Below the threshold
chosen on validation a transcript carries a warning.

**Domain.** A reader trained on one speaker reads anyone as that speaker, fluently and wrongly,
and its posteriors do not always show it. So ``lipkeras calibrate`` also keeps the distribution
of the model's own clip embeddings (mean and standard deviation over time of the features under
its output layer) on the training clips: a Gaussian with a shrunk covariance. A clip whose
Mahalanobis distance from it is beyond what validation clips reach (× a margin), or whose length
is far outside the training clips', is out of the model's domain: another speaker, camera or
vocabulary than it was trained on.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np

DOMAIN_FILE = "domain.npz"


# ---------------------------------------------------------------------------- character posteriors

def ctc_alignment(logp: np.ndarray, ids, blank: int = 0) -> np.ndarray | None:
    """Viterbi forced alignment of ``ids`` to CTC log-probabilities ``logp [T, V]``: for each frame the
    index of the character it emits (``-1``: a blank), or None when ``T`` frames cannot emit them."""
    ids = [int(i) for i in ids]
    T, S = len(logp), 2 * len(ids) + 1
    if not ids:
        return np.full(T, -1)
    ext = np.full(S, blank)
    ext[1::2] = ids
    # a state may come from itself, the one before, or (a character unlike the one two before) skip a blank
    skip = np.zeros(S, bool)
    skip[3::2] = np.asarray(ids[1:]) != np.asarray(ids[:-1])
    score = np.full(S, -np.inf)
    score[:2] = logp[0, ext[:2]]
    back = np.zeros((T, S), np.int8)
    for t in range(1, T):
        stay, step = score, np.concatenate([[-np.inf], score[:-1]])
        jump = np.where(skip, np.concatenate([[-np.inf, -np.inf], score[:-2]]), -np.inf)
        best = np.stack([stay, step, jump])
        back[t] = best.argmax(0)
        score = best.max(0) + logp[t, ext]
    end = S - 1 if score[S - 1] >= score[S - 2] else S - 2
    if not np.isfinite(score[end]):
        return None
    path = np.empty(T, int)
    for t in range(T - 1, -1, -1):
        path[t] = end
        end -= int(back[t, end])  # int minus a NumPy int8 stays int8: it would overflow past 127
    return np.where(path % 2 == 1, path // 2, -1)


def ctc_char_logprobs(logp: np.ndarray, ids, blank: int = 0) -> list[float]:
    """Per character of ``ids``: the mean log-posterior of the frames the forced alignment gives it
    (``-inf`` for all when the clip is too short to emit the text)."""
    align = ctc_alignment(logp, ids, blank)
    if align is None:
        return [-np.inf] * len(ids)
    return [float(np.mean(logp[align == k, int(c)])) for k, c in enumerate(ids)]


def normalized(chars: str, logprobs) -> tuple[str, list[float]]:
    """A decoded string and its per-character log-probabilities with leading, trailing and repeated
    spaces dropped (what the readers print), the two kept one to one."""
    text, kept = [], []
    for c, p in zip(chars, logprobs):
        if c == " " and (not text or text[-1] == " "):
            continue
        text.append(c)
        kept.append(float(p))
    while text and text[-1] == " ":
        text.pop()
        kept.pop()
    return "".join(text), kept


def word_scores(text: str, char_logprobs) -> list[tuple[str, float]]:
    """``(word, mean log-probability of its characters)`` for each word of ``text`` (whose characters,
    spaces included, ``char_logprobs`` follow one to one)."""
    out, start = [], 0
    for word in text.split(" "):
        if word:
            out.append((word, float(np.mean(char_logprobs[start:start + len(word)]))))
        start += len(word) + 1
    return out


# ---------------------------------------------------------------------------- calibration

@dataclasses.dataclass
class Calibration:
    """Platt scaling of word scores and the utterance threshold, as ``lipkeras calibrate`` fit them
    (kept in the model's ``lipkeras.json`` under ``confidence``)."""

    a: float = 1.0
    b: float = 0.0
    threshold: float = 0.5  # utterances below it carry a warning
    method: str = "uncalibrated: sigmoid of the mean character log-probability"

    @classmethod
    def from_meta(cls, meta: dict | None) -> "Calibration":
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (meta or {}).items() if k in fields})

    def word_confidence(self, score: float) -> float:
        if not np.isfinite(score):
            return 0.0
        return float(1.0 / (1.0 + np.exp(-(self.a * score + self.b))))

    def char_confidences(self, char_logprobs) -> list[float]:
        """Each character's confidence: the word calibration applied to the character alone (a word's
        score is the mean of its characters', so a one-character word gets exactly this)."""
        return [round(self.word_confidence(float(p)), 4) for p in char_logprobs]

    def confidences(self, text: str, char_logprobs) -> tuple[float, list[dict]]:
        """(utterance confidence, ``[{"word", "confidence"}]``); an empty transcript has confidence 0."""
        words = [{"word": w, "confidence": round(self.word_confidence(s), 4)}
                 for w, s in word_scores(text, char_logprobs)]
        return (round(float(np.mean([w["confidence"] for w in words])), 4) if words else 0.0), words


def fit_platt(scores: np.ndarray, correct: np.ndarray, l2: float = 1e-3, iterations: int = 100) -> tuple[float, float]:
    """Logistic regression ``P(correct) = sigmoid(a · score + b)`` by Newton's method (a little L2 on
    ``a`` keeps it finite when validation has no wrong word)."""
    x = np.clip(np.asarray(scores, np.float64), -50, 0)
    y = np.asarray(correct, np.float64)
    w = np.array([1.0, 0.0])
    X = np.stack([x, np.ones_like(x)], 1)
    for _ in range(iterations):
        p = 0.5 * (1 + np.tanh(0.5 * (X @ w)))  # the sigmoid, without exp's overflow for large |a · score|
        grad = X.T @ (p - y) + l2 * np.array([w[0], 0.0])
        hess = (X * (p * (1 - p))[:, None]).T @ X + l2 * np.diag([1.0, 0.0]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return float(w[0]), float(w[1])


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """ECE: over ``bins`` equal-width confidence bins, the share-weighted |accuracy − mean confidence|."""
    confidence, correct = np.asarray(confidence, float), np.asarray(correct, float)
    if not len(confidence):
        return float("nan")
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    return float(sum(abs(correct[which == k].mean() - confidence[which == k].mean()) * (which == k).mean()
                     for k in range(bins) if (which == k).any()))


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for ``positive`` against the rest (ties count half)."""
    scores, positive = np.asarray(scores, float), np.asarray(positive, bool)
    pos, neg = scores[positive], scores[~positive]
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()
    return float(greater / (len(pos) * len(neg)))


def word_correctness(reference: str, hypothesis: str) -> list[bool]:
    """For each hypothesis word: whether the minimum-edit alignment to ``reference`` matches it."""
    ref, hyp = reference.split(), hypothesis.split()
    d = np.zeros((len(ref) + 1, len(hyp) + 1), int)
    d[:, 0], d[0, :] = np.arange(len(ref) + 1), np.arange(len(hyp) + 1)
    for i in range(1, len(ref) + 1):
        for j in range(1, len(hyp) + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]))
    ok, i, j = [False] * len(hyp), len(ref), len(hyp)
    while i > 0 and j > 0:
        if d[i, j] == d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            ok[j - 1] = ref[i - 1] == hyp[j - 1]
            i, j = i - 1, j - 1
        elif d[i, j] == d[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return ok


# ---------------------------------------------------------------------------- domain

def clip_embedding(features: np.ndarray, length: int) -> np.ndarray:
    """``features [T, D]`` of one clip's real frames → mean and standard deviation over time ``[2D]``."""
    f = np.asarray(features[:max(int(length), 1)], np.float64)
    return np.concatenate([f.mean(0), f.std(0)])


@dataclasses.dataclass
class Domain:
    """The training clips' embedding distribution and the limits of what the model has seen."""

    mean: np.ndarray
    precision: np.ndarray  # inverse of the shrunk covariance
    threshold: float  # distances above it are out of domain
    min_frames: int
    max_frames: int
    shrinkage: float = 0.2
    margin: float = 1.25
    quantile: float = 0.99
    reference: dict = dataclasses.field(default_factory=dict)  # the distances the threshold came from (not saved)

    @classmethod
    def fit(cls, train: np.ndarray, val: np.ndarray, frames: np.ndarray, shrinkage: float = 0.2,
            margin: float = 1.25, quantile: float = 0.99) -> "Domain":
        """Gaussian of the training embeddings ``[N, D]`` (covariance shrunk towards its mean variance:
        fewer clips than dimensions); threshold = ``margin`` × the ``quantile`` of the training and
        validation clips' distances. Both count, as the clips the model is known to read; a quantile,
        not the largest: 60 validation clips alone miss the tail (a GRID s1 training clip lies at 0.93
        for ``grid_crossmodal``, above all of them) and one odd training clip (1.12) would set it."""
        mean = train.mean(0)
        cov = np.cov(train - mean, rowvar=False)
        cov = (1 - shrinkage) * cov + shrinkage * np.trace(cov) / len(cov) * np.eye(len(cov))
        d = cls(mean, np.linalg.inv(cov), np.inf, int(frames.min()), int(frames.max()), shrinkage, margin)
        d.quantile = quantile
        inside = np.concatenate([d.distance(train), d.distance(val)])
        d.threshold = float(margin * np.quantile(inside, quantile))
        d.reference = {"train_max": round(float(inside[:len(train)].max()), 4),
                       "val_max": round(float(inside[len(train):].max()), 4),
                       f"q{quantile * 100:g}": round(float(np.quantile(inside, quantile)), 4)}
        return d

    def distance(self, embeddings: np.ndarray) -> np.ndarray:
        """Mahalanobis distance per clip, divided by √D (about 1 for a typical training clip)."""
        x = np.atleast_2d(embeddings) - self.mean
        return np.sqrt(np.maximum(np.einsum("nd,de,ne->n", x, self.precision, x), 0) / x.shape[1])

    def check(self, embedding: np.ndarray, frames: int) -> dict:
        """``{"domain_distance", "in_domain", "domain_reasons"}`` for one clip."""
        dist = float(self.distance(embedding)[0])
        reasons = []
        if dist > self.threshold:
            reasons.append(f"looks unlike the training clips (distance {dist:.2f} > {self.threshold:.2f}): "
                           f"another speaker, camera or setting")
        if frames < self.min_frames / 2 or frames > self.max_frames * 2:
            reasons.append(f"{frames} frames, the training clips had {self.min_frames}-{self.max_frames}")
        return {"domain_distance": round(dist, 3), "in_domain": not reasons, "domain_reasons": reasons}

    def save(self, path: str | Path) -> None:
        from lipkeras.records.arrays import save_arrays

        save_arrays(path, {"mean": self.mean,
                           "precision": self.precision, "threshold": np.array(self.threshold),
                           "min_frames": np.array(self.min_frames), "max_frames": np.array(self.max_frames),
                           "shrinkage": np.array(self.shrinkage), "margin": np.array(self.margin),
                           "quantile": np.array(self.quantile)})

    @classmethod
    def load(cls, path: str | Path) -> "Domain | None":
        path = Path(path)
        if not path.is_file():
            return None
        with np.load(io.BytesIO(path.read_bytes())) as f:
            return cls(f["mean"], f["precision"], float(f["threshold"]), int(f["min_frames"]), int(f["max_frames"]),
                       float(f["shrinkage"]), float(f["margin"]), float(f["quantile"]) if "quantile" in f else 1.0)


def assess(text: str, char_logprobs, calibration: Calibration, domain_check: dict | None = None) -> dict:
    """The trust fields of one transcript: ``confidence``, ``word_confidences``, the domain check and,
    when the confidence is under the threshold or the clip is out of domain, a one-line ``warning``."""
    confidence, words = calibration.confidences(text, char_logprobs)
    out = {"confidence": confidence, "word_confidences": words, **(domain_check or {})}
    reasons = list((domain_check or {}).get("domain_reasons", []))
    if confidence < calibration.threshold:
        reasons.insert(0, f"low confidence {confidence:.2f} (< {calibration.threshold:.2f})")
    if reasons:
        out["warning"] = "unreliable transcript: " + "; ".join(reasons)
    return out
