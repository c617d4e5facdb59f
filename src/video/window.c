/* window.c - the live window with SDL2 (window.h). */
#include "video/window.h"

#include <SDL2/SDL.h>
#include <stdlib.h>

#include "core/alloc.h"

struct fer_video_window {
    SDL_Window *window;
    SDL_Renderer *renderer;
    SDL_Texture *texture;
    int width, height; /* of the picture shown: the frame and the panel */
    int closed;
};

enum fer_status fer_video_window_open(const char *title, int width, int height, int panel_h,
                                      fer_video_window **out, char *err)
{
    *out = NULL;
    if (!getenv("DISPLAY") && !getenv("WAYLAND_DISPLAY"))
        return fer_errorf(err, FER_ERR_STATE,
                          "--show needs a display, and there is none "
                          "(DISPLAY is not set): run fer video without --show, or under "
                          "a desktop or xvfb-run");
    if (SDL_InitSubSystem(SDL_INIT_VIDEO) != 0)
        return fer_errorf(err, FER_ERR_STATE, "cannot open a window: %s", SDL_GetError());
    fer_video_window *w = fer_calloc(1, sizeof(*w));
    if (!w) {
        SDL_QuitSubSystem(SDL_INIT_VIDEO);
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for a window");
    }
    w->width = width;
    w->height = height + panel_h;
    /* at most 1280 x 960 on screen; the picture is scaled to the window */
    double s = 1.0;
    if (w->width > 1280)
        s = 1280.0 / w->width;
    if (w->height * s > 960)
        s = 960.0 / w->height;
    w->window = SDL_CreateWindow(title, SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED,
                                 (int)(w->width * s), (int)(w->height * s), SDL_WINDOW_RESIZABLE);
    if (w->window)
        w->renderer = SDL_CreateRenderer(w->window, -1, 0);
    if (w->renderer) {
        SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "linear");
        SDL_RenderSetLogicalSize(w->renderer, w->width, w->height);
        w->texture = SDL_CreateTexture(w->renderer, SDL_PIXELFORMAT_RGB24,
                                       SDL_TEXTUREACCESS_STREAMING, w->width, w->height);
    }
    if (!w->texture) {
        enum fer_status st =
            fer_errorf(err, FER_ERR_STATE, "cannot open a window: %s", SDL_GetError());
        fer_video_window_free(w);
        return st;
    }
    /* the first drawing is slow (a software GL driver compiles its shaders then): do it now,
     * before frames arrive, rather than on the first frame */
    SDL_SetRenderDrawColor(w->renderer, 0, 0, 0, 255);
    SDL_RenderClear(w->renderer);
    SDL_RenderCopy(w->renderer, w->texture, NULL, NULL);
    SDL_RenderPresent(w->renderer);
    *out = w;
    return FER_OK;
}

enum fer_status fer_video_window_show(fer_video_window *w, const fer_image *picture, char *err)
{
    if (picture->width != w->width || picture->height != w->height || picture->channels != 3)
        return fer_errorf(err, FER_ERR_ARG, "the window shows %dx%d RGB pictures, not %dx%d",
                          w->width, w->height, picture->width, picture->height);
    if (SDL_UpdateTexture(w->texture, NULL, picture->data, picture->width * 3) != 0 ||
        SDL_RenderClear(w->renderer) != 0 ||
        SDL_RenderCopy(w->renderer, w->texture, NULL, NULL) != 0)
        return fer_errorf(err, FER_ERR_STATE, "the window cannot draw: %s", SDL_GetError());
    SDL_RenderPresent(w->renderer);
    return FER_OK;
}

int fer_video_window_closed(fer_video_window *w)
{
    SDL_Event ev;
    while (SDL_PollEvent(&ev)) {
        if (ev.type == SDL_QUIT ||
            (ev.type == SDL_WINDOWEVENT && ev.window.event == SDL_WINDOWEVENT_CLOSE))
            w->closed = 1;
        if (ev.type == SDL_KEYDOWN &&
            (ev.key.keysym.sym == SDLK_ESCAPE || ev.key.keysym.sym == SDLK_q))
            w->closed = 1;
    }
    return w->closed;
}

void fer_video_window_free(fer_video_window *w)
{
    if (!w)
        return;
    if (w->texture)
        SDL_DestroyTexture(w->texture);
    if (w->renderer)
        SDL_DestroyRenderer(w->renderer);
    if (w->window)
        SDL_DestroyWindow(w->window);
    /* SDL's video subsystem stays up until the process ends: quitting it unloads the
     * libraries it opened (D-Bus, GL drivers) with their caches still allocated, which leak
     * checkers can then no longer attribute. A second window reuses it. */
    fer_free(w);
}
