#pragma once
// Offline P picker for whole recordings (`towerwatch quake pick`, the evaluation). The site chain triggers
// on one band of the vertical and misses emergent regional arrivals whose energy sits in another band or
// on the horizontals (noisy or dead verticals). Here every component is scanned in several overlapping
// bands (the multi-band idea of FilterPicker, Lomax et al. 2012): each band's STA/LTA trigger opens a
// window, the sliding kurtosis locates the most impulsive change in it and AIC (Maeda 1985) refines the
// onset around that change (kurtosis + AIC, Baillard et al. 2014). Detections of one arrival on several
// bands/components are merged and the most impulsive one (largest kurtosis) gives the pick; an arrival seen
// by a single detector, or in the coda (min_pick_interval_s) of a more impulsive one, is dropped.
#include <cstddef>
#include <string>
#include <vector>

#include "tw/seismic/station.hpp"
#include "tw/seismic/trace.hpp"

namespace tw::seismic {

struct MultiBandPickerConfig {
  // STA/LTA kind and windows, trigger thresholds, pick window (pick_pre_s/pick_post_s around the trigger),
  // min_snr and min_pick_interval_s (detections closer than this are one arrival) come from here.
  ProcessorConfig detector;
  // Two-octave Butterworth bands a half octave apart, plus the site chain's band. A band whose upper
  // corner reaches the Nyquist frequency becomes a high-pass (make_filter_chain); invalid ones are skipped.
  std::vector<std::string> bands{"BP(1,10,4)", "BP(1,4,4)", "BP(1.5,6,4)", "BP(2,8,4)", "BP(3,12,4)", "BP(4,16,4)"};
  bool all_components = true;  // false: only components listed in detector.vertical_components
  double kurtosis_s = 1.0;     // sliding kurtosis window
  double refine_pre_s = 1.0;   // AIC window around the steepest kurtosis rise
  double refine_post_s = 0.5;
  double merge_s = 1.0;        // detections whose onsets chain within this are one arrival
  std::size_t min_detections = 2;  // an arrival needs this many detections (bands x components; at most
                                   // the number of detectors the station has)
};

// Picks one station (all traces share network.station; gaps split traces).
std::vector<Pick> pick_station(const std::vector<const Trace*>& traces, const MultiBandPickerConfig& cfg);
// Picks every station in `traces`, sorted by time.
std::vector<Pick> run_multiband_picker(const std::vector<Trace>& traces, const MultiBandPickerConfig& cfg);

}  // namespace tw::seismic
