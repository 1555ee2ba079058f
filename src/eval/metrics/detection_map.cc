#include "eval/metrics/detection_map.h"

#include <algorithm>
#include <cfloat>
#include <numeric>
#include <set>

namespace c8 {

double box_iou(const Box& a, const Box& b, bool pixel_inclusive) {
  const double one = pixel_inclusive ? 1.0 : 0.0;
  const double iw = std::min<double>(a.x1, b.x1) - std::max<double>(a.x0, b.x0) + one;
  const double ih = std::min<double>(a.y1, b.y1) - std::max<double>(a.y0, b.y0) + one;
  if (iw <= 0 || ih <= 0) return 0.0;
  const double area_a = (double(a.x1) - a.x0 + one) * (double(a.y1) - a.y0 + one);
  const double area_b = (double(b.x1) - b.x0 + one) * (double(b.y1) - b.y0 + one);
  const double uni = area_a + area_b - iw * ih;
  return uni > 0 ? iw * ih / uni : 0.0;
}

void DetectionMap::add_image(std::vector<GroundTruthBox> truth, std::vector<DetectedBox> detections) {
  // Best first; equal scores keep their order (both references sort stably).
  std::stable_sort(detections.begin(), detections.end(),
                   [](const DetectedBox& a, const DetectedBox& b) { return a.score > b.score; });
  images_.push_back({std::move(truth), std::move(detections)});
}

std::vector<int> DetectionMap::classes() const {
  std::set<int> s;
  for (const Image& im : images_)
    for (const GroundTruthBox& g : im.truth)
      if (!g.difficult) s.insert(g.cls);
  return std::vector<int>(s.begin(), s.end());
}

namespace {

// The VOC devkit's AP from the cumulative precision / recall of the ranked
// detections (VOCap.m for all points, the VOC2007 11-point rule otherwise).
double voc_area(const std::vector<double>& rec, const std::vector<double>& prec, ApInterpolation how) {
  if (how == ApInterpolation::ElevenPoints) {
    double ap = 0;
    for (int i = 0; i <= 10; ++i) {
      const double t = i / 10.0;
      double p = 0;
      for (size_t k = 0; k < rec.size(); ++k)
        if (rec[k] >= t) p = std::max(p, prec[k]);
      ap += p / 11.0;
    }
    return ap;
  }
  std::vector<double> mrec{0.0}, mpre{0.0};
  mrec.insert(mrec.end(), rec.begin(), rec.end());
  mpre.insert(mpre.end(), prec.begin(), prec.end());
  mrec.push_back(1.0);
  mpre.push_back(0.0);
  for (size_t i = mpre.size() - 1; i-- > 0;) mpre[i] = std::max(mpre[i], mpre[i + 1]);
  double ap = 0;
  for (size_t i = 1; i < mrec.size(); ++i)
    if (mrec[i] != mrec[i - 1]) ap += (mrec[i] - mrec[i - 1]) * mpre[i];
  return ap;
}

}  // namespace

std::vector<ClassAp> DetectionMap::voc_ap(double iou_threshold, ApInterpolation how) const {
  std::vector<ClassAp> out;
  for (int c : classes()) {
    struct Ranked {
      size_t image, index;
      float score;
    };
    std::vector<Ranked> ranked;
    size_t npos = 0;
    for (size_t i = 0; i < images_.size(); ++i) {
      for (const GroundTruthBox& g : images_[i].truth) npos += g.cls == c && !g.difficult;
      for (size_t d = 0; d < images_[i].detections.size(); ++d)
        if (images_[i].detections[d].cls == c) ranked.push_back({i, d, images_[i].detections[d].score});
    }
    std::stable_sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) { return a.score > b.score; });
    std::vector<std::vector<char>> taken(images_.size());
    for (size_t i = 0; i < images_.size(); ++i) taken[i].assign(images_[i].truth.size(), 0);
    std::vector<double> rec, prec;
    double tp = 0, fp = 0;
    for (const Ranked& r : ranked) {
      const Image& im = images_[r.image];
      const Box& db = im.detections[r.index].box;
      double best = -1;
      size_t at = 0;
      for (size_t g = 0; g < im.truth.size(); ++g) {
        if (im.truth[g].cls != c) continue;
        const double o = box_iou(db, im.truth[g].box, true);
        if (o > best) best = o, at = g;
      }
      if (best >= iou_threshold) {
        if (im.truth[at].difficult) continue;  // counts neither way
        if (!taken[r.image][at]) {
          taken[r.image][at] = 1;
          tp += 1;
        } else {
          fp += 1;  // a second detection of one object
        }
      } else {
        fp += 1;
      }
      rec.push_back(tp / double(npos));
      prec.push_back(tp / (tp + fp));
    }
    out.push_back({c, voc_area(rec, prec, how), npos, ranked.size()});
  }
  return out;
}

double DetectionMap::voc_map(double iou_threshold, ApInterpolation how) const {
  const std::vector<ClassAp> aps = voc_ap(iou_threshold, how);
  if (aps.empty()) return 0.0;
  double s = 0;
  for (const ClassAp& a : aps) s += a.ap;
  return s / double(aps.size());
}

double DetectionMap::coco_ap(int cls, double iou_threshold) const {
  constexpr size_t kMaxDets = 100;  // COCOeval's maxDets[-1]
  struct Scored {
    float score;
    bool matched;
  };
  std::vector<Scored> all;
  size_t npig = 0;
  for (const Image& im : images_) {
    std::vector<size_t> gts;
    for (size_t g = 0; g < im.truth.size(); ++g)
      if (im.truth[g].cls == cls) gts.push_back(g);
    npig += gts.size();
    std::vector<char> taken(gts.size(), 0);
    size_t kept = 0;
    for (const DetectedBox& d : im.detections) {  // score-descending
      if (d.cls != cls) continue;
      if (kept++ == kMaxDets) break;
      // The best-overlapping ground truth not yet taken, at least the threshold
      // (COCOeval.evaluateImg; the last of equal overlaps wins, as there).
      double best = std::min(iou_threshold, 1 - 1e-10);
      long m = -1;
      for (size_t k = 0; k < gts.size(); ++k) {
        if (taken[k]) continue;
        const double o = box_iou(d.box, im.truth[gts[k]].box, false);
        if (o < best) continue;
        best = o, m = long(k);
      }
      if (m >= 0) taken[size_t(m)] = 1;
      all.push_back({d.score, m >= 0});
    }
  }
  if (npig == 0) return -1.0;
  // COCOeval.accumulate: all images' detections by score (stable), the
  // precision envelope, read at the 101 recall thresholds 0, 0.01, ..., 1.
  std::stable_sort(all.begin(), all.end(), [](const Scored& a, const Scored& b) { return a.score > b.score; });
  std::vector<double> rc(all.size()), pr(all.size());
  double tp = 0, fp = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    (all[i].matched ? tp : fp) += 1;
    rc[i] = tp / double(npig);
    pr[i] = tp / (tp + fp + DBL_EPSILON);
  }
  for (size_t i = pr.size(); i-- > 1;) pr[i - 1] = std::max(pr[i - 1], pr[i]);
  double sum = 0;
  for (int r = 0; r <= 100; ++r) {
    const double t = r * 0.01;  // numpy.linspace(0, 1, 101)'s values (7 * 0.01 > 0.07)
    const size_t at = size_t(std::lower_bound(rc.begin(), rc.end(), t) - rc.begin());
    if (at < pr.size()) sum += pr[at];
  }
  return sum / 101.0;
}

double DetectionMap::coco_map() const {
  std::set<int> cls;
  for (const Image& im : images_)
    for (const GroundTruthBox& g : im.truth) cls.insert(g.cls);
  double s = 0;
  size_t n = 0;
  for (int c : cls)
    for (int t = 0; t < 10; ++t) {
      const double ap = coco_ap(c, 0.5 + t * ((0.95 - 0.5) / 9));  // numpy.linspace(.5, .95, 10)
      if (ap < 0) continue;
      s += ap;
      ++n;
    }
  return n ? s / double(n) : 0.0;
}

}  // namespace c8
