namespace KubeletPS.Core; internal static class Placeholder {}
