// ImageNet statistics, per RGB channel, that torchvision's pretrained encoders expect. A module of their
// own (no sharp) so that the browser page (src/web/) normalises with the very same numbers.
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;
