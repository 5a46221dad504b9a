"""Looking inside trained models: filters, activations, deconvnet, occlusion, gradient flow."""
