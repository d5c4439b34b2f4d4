// W1 (16-32-32-4) and W2 (784-128-10) single-sample forward passes in RTNeural's
// compile-time API (ModelT, Eigen backend), timed as benches/best_of.rs times constnet's:
// the least time per call over many batches of calls, on one thread. Built and run by
// benches/rtneural/run.sh. The weights are uniform in [-1/sqrt(in), 1/sqrt(in)) and the
// input uniform in [-1, 1): a dense pass's time does not depend on the values.
#include <RTNeural/RTNeural.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

template <typename Dense>
void randomize(Dense& layer, std::mt19937& rng)
{
    const float bound = 1.0f / std::sqrt(float(Dense::in_size));
    std::uniform_real_distribution<float> u(-bound, bound);
    std::vector<std::vector<float>> w(Dense::out_size, std::vector<float>(Dense::in_size));
    for(auto& row : w)
        for(auto& v : row)
            v = u(rng);
    std::vector<float> b(Dense::out_size);
    for(auto& v : b)
        v = u(rng);
    layer.setWeights(w);
    layer.setBias(b.data());
}

template <typename Model, int In>
double best_of(Model& model, int batches, int calls)
{
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    alignas(64) float x[In];
    for(auto& v : x)
        v = u(rng);
    volatile float sink = 0.0f;
    double best = 1e30;
    for(int b = 0; b < batches; ++b)
    {
        const auto start = std::chrono::steady_clock::now();
        for(int c = 0; c < calls; ++c)
        {
            asm volatile("" : : "r"(x) : "memory"); // the input may have changed
            sink = model.forward(x);
        }
        const auto end = std::chrono::steady_clock::now();
        best = std::min(best, std::chrono::duration<double>(end - start).count() / calls);
    }
    (void)sink;
    return best;
}

int main(int argc, char** argv)
{
    const char* filter = argc > 1 ? argv[1] : "W";
    std::mt19937 rng(1);
    if(std::strstr("W1", filter) || std::strstr(filter, "W1"))
    {
        static RTNeural::ModelT<float, 16, 4,
            RTNeural::DenseT<float, 16, 32>, RTNeural::ReLuActivationT<float, 32>,
            RTNeural::DenseT<float, 32, 32>, RTNeural::ReLuActivationT<float, 32>,
            RTNeural::DenseT<float, 32, 4>>
            w1;
        randomize(w1.get<0>(), rng);
        randomize(w1.get<2>(), rng);
        randomize(w1.get<4>(), rng);
        const double t = best_of<decltype(w1), 16>(w1, 200, 20000);
        std::printf("RTNeural W1 forward one sample: %.2f ns\n", t * 1e9);
    }
    if(std::strstr("W2", filter) || std::strstr(filter, "W2"))
    {
        static RTNeural::ModelT<float, 784, 10,
            RTNeural::DenseT<float, 784, 128>, RTNeural::ReLuActivationT<float, 128>,
            RTNeural::DenseT<float, 128, 10>>
            w2;
        randomize(w2.get<0>(), rng);
        randomize(w2.get<2>(), rng);
        const double t = best_of<decltype(w2), 784>(w2, 50, 2000);
        std::printf("RTNeural W2 forward one sample: %.2f us\n", t * 1e6);
    }
}
