package clean

// HelpOffTopic explains the off-topic and misfiled checks for `scour clean
// --help`.
const HelpOffTopic = `Off-topic images (reason off-topic), per class method (clean.off_topic.method,
or a class's own method):
  auto       project when the labeler gives embeddings (the local model does),
             else labels when the class has reference images
  project    judged against what the whole project shares. Each image gets a
             score: the overlap of its top-30 labels with the project's label
             profile (Bhattacharyya coefficient) plus the cosine of its
             embedding to the project's centre, taking the best of the project's
             centre and each class's own (classes of 5 or more images), so a
             project of ships and kayaks finds neither odd. Centres are robust:
             the mean of the best-scoring half, three times over, so garbage
             under half of a class cannot pull them. The cut is made over the
             whole project, not one class: where a separate low mode of scores
             begins (a two-part mixture whose parts are clearly apart), which
             is where a homonym's cluster (cars among C-5 aircraft, vitamin
             charts among B-1 bombers) sits; without such a mode, max_z robust
             standard deviations below the median. References join their
             class's centre (one unlike the project is left out, with a
             warning). A class that falls almost wholly below the cut is a
             domain of its own (a background class) and is not judged.
  reference  similarity to the class's references, robust z-score (max_z)
  labels     shares none of the references' top-k labels
  outlier    k-nearest-neighbour density within the class (misses clusters)
  off        no off-topic check

Misfiled images (reason misfiled; the detail and the export's suggest column
name the class): with two or more classes, each image is compared with every
class's robust centre on standardised embeddings, its own class's centre
without it; an image closer to another class by more than misfiled_z robust
standard deviations above the project's median is flagged. One class: skipped.

Learning from review: every keep or reject (scour review, restore --keep)
steers the next clean: kept images always shape the centres, rejected ones
never do; the cut moves to where it agrees best with the decisions; and an
undecided image more like a rejected one than like anything kept is flagged.

Every judged image's scores and thresholds are saved (clean_scores) for
review and export, most doubtful first.`
