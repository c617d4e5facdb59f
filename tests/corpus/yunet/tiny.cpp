float a[3] = {1.5f, -2e-3f, 0.f};
ConvInfoStruct param_pConvInfo[53] = {{32, 16, false, true, true, a, a}};
