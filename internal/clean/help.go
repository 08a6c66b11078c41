package clean

// HelpOffTopic explains the off-topic and misfiled checks, for `scour clean
// --help`.
const HelpOffTopic = `Off-topic images (reason off-topic). Each class uses clean.off_topic.method,
or its own method:
  auto       project, when the labeler gives embeddings (the local model does);
             labels, when it does not and the class has reference images
  project    judged against what the whole project shares, not only its class.
             The project's picture is a set of robust centres: one for the whole
             project and one per class of 5 or more images, each the mean of the
             best-matching half of its images, recomputed three times, so that
             garbage under half of a class cannot pull it. An image is compared
             with the nearest centre; a score is a z-score over the whole
             project's images (median and MAD, recomputed without the images
             more than 3 below), so a class that is mostly garbage is still
             judged against on-topic pictures. Flagged: 4 robust standard
             deviations below the median, or 2 when its top labels also share
             less than min_label_overlap of the project's median overlap. This
             finds the dense clusters a scrape brings (vitamin charts among B-1
             bombers, cars among C-5 aircraft) that a within-class rule calls
             normal. References join their class's centre and speak for the
             class's images like them: a picture at least as like a reference
             of its class as the project's typical image is like its centre
             (the median) is not off-topic, and labels it shares with a
             reference count as overlap. A reference unlike the project is left
             out, with a warning. A class of 3-4 images is
             judged by its own images' agreement; a class that the project finds
             almost wholly unlike itself is a domain of its own (a background
             class) and is left alone, with a warning.
  reference  similarity to the class's references, robust z-score (max_z)
  labels     shares none of the references' top-k labels
  outlier    k-nearest-neighbour density within the class (misses clusters)
  off        no off-topic check

Misfiled images (reason misfiled; the flag's detail and the export's suggest
column name the class): with two or more classes of 3 or more images, three
opinions must agree. Two are heads, softmax regressions each fitted five
times on four fifths of the project and asked about the fifth they did not
see (off-topic and rejected images are never fitted on, nor a misfiled
batch: three or more suspects that are each other's nearest images in their
folder, their median margin (see below) over twice misfiled_z, so that 20
photos of another class filed together cannot vouch for each other; the penalty is the
one whose held-out predictions fit best): one reads the image's embedding
(square-rooted and standardised over the project), the other its label
distribution. Each must give the image's own class less than 0.1. They err
on different photos, so a photo between two look-alike classes (fishing
boats, security boats, tugs) rarely fools both, while a photo filed in the
wrong folder fools neither. Third, the image must be closer to another
class's robust centre than to its own class's centre without it, by more
than misfiled_z (1) robust standard deviations above the project's median
margin (at least 0.05): this spares classes the embeddings barely tell apart
(two bomber types), where the heads can be sure and wrong. The suggested
class is the one the two heads together find most likely. The saved misfiled
score is the centres' margin, beside its threshold. The heads need 50 images
in every class: a smaller project uses one head on the embeddings, fitted
without the images the centres doubt (a few misfiled images are a large share
of a small folder and would leave heads fitted on them too unsure to flag).
With one class there is nothing to compare: skipped, with a note.

Learning from review: each keep or reject (scour review, restore --keep) is
an example for the next clean. Kept images always shape the centres,
rejected ones never do; the threshold moves to where it agrees best with the
decisions; an undecided image more like a rejected one than like anything
kept or its nearest centre is flagged too.

Without a model (no ONNX Runtime), the off-topic and misfiled checks are
skipped and named; the other checks run. Every image's scores and thresholds
are saved (clean_scores) for review and export, most doubtful first.`
