// Package pipeline owns every stage: `scour run` and each single-stage
// command (`scour gather`, `clean`, `split`, `train`, `sweep`, `report`)
// execute the same Stage values, so they do the same work and fail with the
// same error kinds. cmd/scour only parses flags, prints and maps errors to
// exit codes.
//
// Where each stage lives, one file each:
//
//	gather.go   Gather: search the sources, download (resumable, shardable)
//	clean.go    Clean: pick the recognizer (cloud cost policy), clean.Run; Restore
//	split.go    Split: stratified, leakage-safe sets; optional folder export
//	train.go    Train: head, CNN and sweep variants; TrainOne, TrainHead, Sweep
//	report.go   Report: assemble the report from catalog and runs/, write it
//	run.go      Stage, Run: order the stages, skip those whose inputs did not change
//	topup.go    TopUp: gather -> clean rounds until targets count clean images
//
// The commands that are not stages of `scour run` live beside them:
// predict.go, augment.go, export.go, review.go, merge.go, doctor.go.
package pipeline
