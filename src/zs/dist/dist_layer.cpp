// placeholder so the layer has a source; replaced as the layer grows
